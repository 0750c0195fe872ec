import { ScanResult, scanResponse } from '../wire/answer.js';
import { AttemptBase, type AttemptArgs } from './exchange.js';
import type { ChannelAttempt, EncryptedChannel } from './upstream-server.js';

/**
 * One query to a DoT or DoH server over that server's persistent connection. An answer
 * must still carry our ID and our question (a broken or hostile server gets no say over
 * other names); the case is not checked: 0x20 guards against off-path forgery, which TLS
 * rules out. A malformed answer ends the attempt.
 */
export class EncryptedAttempt extends AttemptBase implements ChannelAttempt {
  private readonly channel: EncryptedChannel;

  constructor(...args: AttemptArgs) {
    super(...args);
    this.channel = this.server.channel!;
    this.channel.send(this);
  }

  get id(): number {
    return this.expected.id;
  }

  deliver(message: Buffer): void {
    if (this.closed) return;
    const { expected, counters, handler } = this;
    const outcome = scanResponse(message, expected.id, expected.question, expected.questionLength, expected.udpSize);
    if (outcome.result === ScanResult.OK) {
      if (this.settle()) handler.answered(this, outcome.answer!);
      return;
    }
    if (outcome.result === ScanResult.WRONG_ID) counters.rejectedId++;
    else if (outcome.result === ScanResult.WRONG_QUESTION) counters.rejectedQuestion++;
    else counters.rejectedMalformed++;
    this.fail(new Error(`${this.server.label} sent an answer that is not to our question`));
  }

  fail(error: Error): void {
    if (this.settle()) this.handler.failed(this, error);
  }

  protected release(): void {
    this.channel.cancel(this);
  }
}
