import dgram from 'node:dgram';
import { ScanResult, scanResponse } from '../wire/answer.js';
import { ExchangeTimeout, TRUNCATED, type ExchangeCounters, type ExchangeResult, type Expected } from './exchange.js';
import type { UpstreamServer } from './upstream-server.js';

/**
 * Sends one query over UDP from a fresh socket and waits for the answer. A new socket per
 * query gives every query its own kernel-randomised source port (RFC 5452 §9.2), and
 * connecting it makes the kernel discard datagrams from any other address or port.
 * Answers with the wrong ID or question are ignored, and the wait goes on, so a forged
 * packet can at worst cost time, never poison the cache.
 */
export function exchangeUdp(
  server: UpstreamServer,
  query: Buffer,
  expected: Expected,
  timeoutMs: number,
  counters: ExchangeCounters,
): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const finish = (error: Error | null, result?: ExchangeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(result!);
    };
    const timer = setTimeout(() => finish(new ExchangeTimeout(`no answer from ${server.label} in ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (error) => finish(error));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== server.port || rinfo.address !== server.host) {
        counters.rejectedSource++;
        return;
      }
      const outcome = scanResponse(msg, expected.id, expected.question, expected.questionLength, expected.udpSize);
      switch (outcome.result) {
        case ScanResult.OK:
          finish(null, outcome.answer!);
          return;
        case ScanResult.TRUNCATED:
          finish(null, TRUNCATED);
          return;
        case ScanResult.WRONG_ID:
        case ScanResult.NOT_A_RESPONSE:
          counters.rejectedId++;
          return;
        case ScanResult.WRONG_QUESTION:
          counters.rejectedQuestion++;
          return;
        default:
          counters.rejectedMalformed++;
      }
    });
    socket.connect(server.port, server.host, () => {
      if (!settled) socket.send(query, (error) => error && finish(error));
    });
  });
}
