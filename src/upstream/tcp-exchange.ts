import net from 'node:net';
import { ScanResult, scanResponse } from '../wire/answer.js';
import { AttemptBase, type AttemptArgs } from './exchange.js';

/**
 * One query over TCP (RFC 7766 length framing) on its own connection, used when the UDP
 * answer was truncated; listens until closed. Frames that do not match are skipped; a
 * malformed one ends the attempt, since TCP cannot be spoofed off-path and garbage means a
 * broken upstream.
 */
export class TcpAttempt extends AttemptBase {
  private readonly socket: net.Socket;
  private pending: Buffer = Buffer.alloc(0);

  constructor(...args: AttemptArgs) {
    super(...args);
    const { server, query, handler } = this;
    const socket = net.connect({ host: server.host, port: server.port });
    this.socket = socket;
    socket.on('error', (error) => {
      if (this.settle()) handler.failed(this, error);
    });
    socket.on('close', () => {
      if (this.settle()) handler.failed(this, new Error(`${server.label} closed the TCP connection before answering`));
    });
    socket.on('connect', () => {
      const frame = Buffer.allocUnsafe(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  protected release(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const { expected, counters, handler } = this;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (!this.closed && this.pending.length >= 2) {
      const length = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + length) return;
      const message = this.pending.subarray(2, 2 + length);
      this.pending = this.pending.subarray(2 + length);
      // Over TCP the case is not checked: 0x20 guards against off-path forgery, which TCP rules out.
      const outcome = scanResponse(message, expected.id, expected.question, expected.questionLength, expected.udpSize);
      if (outcome.result === ScanResult.OK) {
        if (this.settle()) handler.answered(this, outcome.answer!);
        return;
      }
      if (outcome.result === ScanResult.WRONG_ID) counters.rejectedId++;
      else if (outcome.result === ScanResult.WRONG_QUESTION) counters.rejectedQuestion++;
      else {
        counters.rejectedMalformed++;
        if (this.settle()) handler.failed(this, new Error(`${this.server.label} sent a malformed or truncated TCP answer`));
        return;
      }
    }
  }
}
