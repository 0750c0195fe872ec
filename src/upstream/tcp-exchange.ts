import net from 'node:net';
import { ScanResult, scanResponse } from '../wire/answer.js';
import { ExchangeTimeout, type ExchangeCounters, type Expected } from './exchange.js';
import type { Answer } from '../wire/answer.js';
import type { UpstreamServer } from './upstream-server.js';

/**
 * Sends one query over TCP (RFC 7766 length framing) on its own connection, used when the
 * UDP answer was truncated. Frames that do not match are skipped; a malformed one ends the
 * attempt, since TCP cannot be spoofed off-path and garbage means a broken upstream.
 */
export function exchangeTcp(
  server: UpstreamServer,
  query: Buffer,
  expected: Expected,
  timeoutMs: number,
  counters: ExchangeCounters,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let settled = false;
    let pending: Buffer = Buffer.alloc(0);
    const finish = (error: Error | null, answer?: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new ExchangeTimeout(`no TCP answer from ${server.label} in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`${server.label} closed the TCP connection before answering`)));
    socket.on('connect', () => {
      const frame = Buffer.allocUnsafe(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) return;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const outcome = scanResponse(message, expected.id, expected.question, expected.questionLength, expected.udpSize);
        if (outcome.result === ScanResult.OK) return finish(null, outcome.answer!);
        if (outcome.result === ScanResult.WRONG_ID) counters.rejectedId++;
        else if (outcome.result === ScanResult.WRONG_QUESTION) counters.rejectedQuestion++;
        else {
          counters.rejectedMalformed++;
          return finish(new Error(`${server.label} sent a malformed or truncated TCP answer`));
        }
      }
    });
  });
}
