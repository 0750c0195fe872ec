import type { Query } from '../pipeline/query.js';
import type { Stage } from '../pipeline/stage.js';
import type { Answer } from '../wire/answer.js';
import { ReadResult, readRequest } from '../wire/request.js';
import type { Responder } from './responder.js';

/** What became of a message handed to the dispatcher. */
export const Dispatched = {
  /** The reply has already been sent. */
  ANSWERED: 0,
  /** The query went asynchronous: its Query object now belongs to the chain. */
  PENDING: 1,
  /** No reply will be sent (too short, or a response packet). */
  DROPPED: 2,
} as const;
export type Dispatched = (typeof Dispatched)[keyof typeof Dispatched];

/**
 * Shared by every listener: reads a message into a Query, runs the chain and hands the
 * outcome to the responder. It counts queries still in flight so a drain knows when the
 * last one has been answered.
 */
export class Dispatcher {
  inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly head: Stage,
    private readonly responder: Responder,
  ) {}

  /** Handles one message; after PENDING the caller must not reuse `query`. */
  dispatch(msg: Buffer, query: Query): Dispatched {
    const read = readRequest(msg, query);
    if (read === ReadResult.DROP) {
      this.responder.reject(query, read);
      return Dispatched.DROPPED;
    }
    if (read !== ReadResult.OK) {
      this.responder.reject(query, read);
      return Dispatched.ANSWERED;
    }
    let outcome: Answer | Promise<Answer>;
    try {
      outcome = this.head.resolve(query);
    } catch (error) {
      this.responder.fail(query, error);
      return Dispatched.ANSWERED;
    }
    if (!(outcome instanceof Promise)) {
      this.responder.answer(query, outcome);
      return Dispatched.ANSWERED;
    }
    this.inFlight++;
    outcome.then(
      (answer) => this.settle(query, answer, null),
      (error: unknown) => this.settle(query, null, error),
    );
    return Dispatched.PENDING;
  }

  /** Resolves once no query is in flight (immediately if none is). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settle(query: Query, answer: Answer | null, error: unknown): void {
    this.inFlight--;
    if (answer !== null) this.responder.answer(query, answer);
    else this.responder.fail(query, error);
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
