import dgram from 'node:dgram';
import { ScanResult, scanResponse } from '../wire/answer.js';
import { AttemptBase, type AttemptArgs } from './exchange.js';

/**
 * One query over UDP from a fresh socket, listening until closed. A new socket per query
 * gives every query its own kernel-randomised source port (RFC 5452 §9.2), and connecting
 * it makes the kernel discard datagrams from any other address or port. Answers with the
 * wrong ID or question (or case, with 0x20) are ignored and the wait goes on, so a forged
 * packet can at worst cost time, never poison the cache. How long to listen is the
 * caller's business: an earlier attempt may still answer after a later one was sent.
 */
export class UdpAttempt extends AttemptBase {
  private readonly socket: dgram.Socket;
  private mismatchReported = false;

  constructor(...args: AttemptArgs) {
    super(...args);
    const { server, query, handler } = this;
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('error', (error) => this.finish(() => handler.failed(this, error)));
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.connect(server.port, server.host, () => {
      if (!this.closed) socket.send(query, (error) => error && this.finish(() => handler.failed(this, error)));
    });
  }

  protected release(): void {
    this.socket.close();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const { server, expected, counters, handler } = this;
    if (rinfo.port !== server.port || rinfo.address !== server.host) {
      counters.rejectedSource++;
      return;
    }
    const outcome = scanResponse(msg, expected.id, expected.question, expected.questionLength, expected.udpSize, expected.exactCase);
    switch (outcome.result) {
      case ScanResult.OK:
        return this.finish(() => handler.answered(this, outcome.answer!));
      case ScanResult.TRUNCATED:
        return this.finish(() => handler.truncated(this));
      case ScanResult.WRONG_ID:
      case ScanResult.NOT_A_RESPONSE:
        counters.rejectedId++;
        return;
      case ScanResult.WRONG_QUESTION:
        counters.rejectedQuestion++;
        return;
      case ScanResult.WRONG_CASE:
        counters.rejectedCase++;
        if (!this.mismatchReported) {
          this.mismatchReported = true;
          handler.caseMismatch(this);
        }
        return;
      default:
        counters.rejectedMalformed++;
    }
  }
}
