import { performance } from 'node:perf_hooks';
import type { Answer } from '../wire/answer.js';
import type { ExchangeCounters } from './exchange-counters.js';
import type { UpstreamServer } from './upstream-server.js';

/** What an answer must match to be accepted (RFC 5452 §9.1): our ID and our exact question. */
export interface Expected {
  id: number;
  /** The question as sent: name, type, class. */
  question: Buffer;
  questionLength: number;
  /** The name went out in mixed case (0x20): the answer must echo it case for case. */
  exactCase: boolean;
  /** UDP size written into the OPT record of the stored answer. */
  udpSize: number;
}

/** One query sent to one server, listening until it answers, fails, or is closed. */
export interface Attempt {
  readonly server: UpstreamServer;
  /** The query as sent. */
  readonly query: Buffer;
  readonly expected: Expected;
  /** performance.now() when it was sent. */
  readonly sentAt: number;
  /** Stops listening and releases its socket; nothing is reported after this. */
  close(): void;
}

/** What makes an attempt: the server, the query as sent, what the answer must match, whom to tell. */
export type AttemptArgs = [server: UpstreamServer, query: Buffer, expected: Expected, counters: ExchangeCounters, handler: AttemptHandler];

/** What every attempt shares: at most one outcome reported, and nothing after close(). */
export abstract class AttemptBase implements Attempt {
  readonly sentAt = performance.now();
  private done = false;

  constructor(
    readonly server: UpstreamServer,
    readonly query: Buffer,
    readonly expected: Expected,
    protected readonly counters: ExchangeCounters,
    protected readonly handler: AttemptHandler,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.release();
  }

  /** Releases the socket; called once. */
  protected abstract release(): void;

  /**
   * Closes; true when it was still open, so that the caller reports its one outcome (a
   * check rather than a callback: no closure per answer).
   */
  protected settle(): boolean {
    if (this.done) return false;
    this.close();
    return true;
  }
}

/** Told what becomes of each attempt; each attempt reports at most one outcome, and only until closed. */
export interface AttemptHandler {
  answered(attempt: Attempt, answer: Answer): void;
  /** TC=1: the same server should be asked over TCP. */
  truncated(attempt: Attempt): void;
  failed(attempt: Attempt, error: Error): void;
  /**
   * An answer to our question in another case than sent (0x20); the attempt goes on
   * listening, as for any answer that does not match. Reported once per attempt.
   */
  caseMismatch(attempt: Attempt): void;
}
