import { ScanResult, scanResponse } from '../wire/answer.js';
import { AttemptBase, type AttemptArgs } from './exchange.js';
import type { PooledAttempt, PooledSocket } from './udp-socket-pool.js';

const NO_FREE_ID = new Error('every pooled socket has a query with this ID in flight');

function noFreeId(attempt: UdpAttempt): void {
  attempt.fail(NO_FREE_ID);
}

/**
 * One query over UDP, sent from one of the server's pooled sockets (udp-socket-pool.ts) and
 * listening until closed. Answers with the wrong ID, question or case (0x20) are ignored and
 * the wait goes on, so a forged packet can at worst cost time, never poison the cache. How
 * long to listen is the caller's business: an earlier attempt may still answer after a
 * later one was sent.
 */
export class UdpAttempt extends AttemptBase implements PooledAttempt {
  private readonly socket: PooledSocket | null;
  private mismatchReported = false;

  constructor(...args: AttemptArgs) {
    super(...args);
    this.socket = this.server.udpPool(this.counters).send(this);
    // Reported on the next tick: the caller has not stored the attempt yet.
    if (this.socket === null) process.nextTick(noFreeId, this);
  }

  protected release(): void {
    this.socket?.release(this);
  }

  fail(error: Error): void {
    if (this.settle()) this.handler.failed(this, error);
  }

  receive(msg: Buffer): void {
    const { expected, counters, handler } = this;
    if (this.closed) return;
    const outcome = scanResponse(msg, expected.id, expected.question, expected.questionLength, expected.udpSize, expected.exactCase);
    switch (outcome.result) {
      case ScanResult.OK:
        if (this.settle()) handler.answered(this, outcome.answer!);
        return;
      case ScanResult.TRUNCATED:
        if (this.settle()) handler.truncated(this);
        return;
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
