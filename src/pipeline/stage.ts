import type { Answer } from '../wire/answer.js';
import type { Query } from './query.js';

/**
 * One link of the resolver chain. A stage answers by itself or asks `next`; it returns
 * synchronously when it can (cache hits never touch a Promise) and a Promise otherwise.
 */
export abstract class Stage {
  abstract readonly name: string;
  /** Set once by chain(); the last stage has none and must answer everything itself. */
  protected next!: Stage;

  abstract resolve(query: Query): Answer | Promise<Answer>;

  /** Releases sockets and timers; called once on shutdown, first stage first. */
  async close(): Promise<void> {}

  /** @internal used by chain() only. */
  link(next: Stage): void {
    this.next = next;
  }
}

/** Links stages in the order given; returns the first. The order is the architecture. */
export function chain(stages: readonly Stage[]): Stage {
  if (stages.length === 0) throw new Error('a chain needs at least one stage');
  for (let i = 0; i < stages.length - 1; i++) stages[i]!.link(stages[i + 1]!);
  return stages[0]!;
}
