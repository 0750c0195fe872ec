import { BOARD_WORDS, Header, type CacheMemory } from './cache-memory.js';

/** How often a process waiting on another's fetch looks whether it ended. */
const POLL_MS = 1;

/** What claim() found. */
export const Claim = {
  /** The slot is this fetcher's now: fetch, store, then release(). */
  TAKEN: 0,
  /** This fetcher already fetches the question: the coalesce stage below joins that exchange. */
  HELD_HERE: 1,
  /** Another process fetches it: wait with settled(), then look in the cache. */
  HELD_ELSEWHERE: 2,
  /** Another question holds the slot: fetch without the board. */
  UNAVAILABLE: 3,
} as const;
export type Claim = (typeof Claim)[keyof typeof Claim];

class Waiter {
  resolve!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolve = resolve));

  constructor(
    readonly key: number,
    readonly owner: number,
  ) {}
}

/**
 * The questions the processes sharing a cache are fetching right now, so a question missed
 * in two workers at once goes upstream once: the first claims its slot, the others wait for
 * that fetch to end and then find its answer in the cache. A slot holds one question (a
 * direct-mapped table); a question whose slot another holds is fetched as if alone.
 *
 * The board never decides an answer, only who asks first: a waiter looks the question up
 * when the claim ends and fetches it itself if the cache has nothing (an uncacheable answer,
 * a failed fetch, a slot mixed up by a race between two claims). A claim lapses after
 * `holdMs`, so a process that dies fetching holds no one up for longer.
 *
 * Workers are processes, and Atomics.wait/notify only reach threads of one process: a
 * waiter polls its slot every POLL_MS, one timer for all of a process's waiters, and only
 * while some wait.
 */
export class FetchBoard {
  /** This fetcher's id on the board: one of its own among all that mapped the memory. */
  readonly id: number;
  private readonly board: Int32Array;
  private readonly mask: number;
  private readonly waiters = new Map<number, Waiter>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    memory: CacheMemory,
    private readonly holdMs: number,
  ) {
    this.board = memory.board;
    this.mask = memory.board.length / BOARD_WORDS - 1;
    // Never 0, which marks a free slot.
    let id = Atomics.add(memory.header, Header.FETCHERS, 1) + 1;
    if (id === 0) id = Atomics.add(memory.header, Header.FETCHERS, 1) + 1;
    this.id = id;
  }

  claim(key: number, now: number): Claim {
    const board = this.board;
    const at = this.slot(key);
    const owner = board[at + 1]!;
    if (owner !== 0 && now < (board[at + 2]! >>> 0) * 1000) {
      if (board[at] !== (key | 0)) return Claim.UNAVAILABLE;
      return owner === this.id ? Claim.HELD_HERE : Claim.HELD_ELSEWHERE;
    }
    // Free, or a lapsed claim: whoever changes the owner first takes it.
    if (Atomics.compareExchange(board, at + 1, owner, this.id) !== owner) return Claim.UNAVAILABLE;
    board[at] = key | 0;
    board[at + 2] = Math.ceil((now + this.holdMs) / 1000);
    return Claim.TAKEN;
  }

  /** Ends this fetcher's claim on `key` (after storing the answer, so waiters find it). */
  release(key: number): void {
    const at = this.slot(key);
    if (this.board[at] === (key | 0)) Atomics.compareExchange(this.board, at + 1, this.id, 0);
  }

  /** Resolves once the claim on `key` that claim() found held elsewhere has ended or lapsed. */
  settled(key: number): Promise<void> {
    const at = this.slot(key);
    const owner = this.board[at + 1]!;
    // Released since claim() found it held (another process runs meanwhile): nothing to wait for.
    if (owner === 0) return Promise.resolve();
    const waiting = this.waiters.get(at);
    if (waiting !== undefined && waiting.key === (key | 0) && waiting.owner === owner) return waiting.done;
    const waiter = new Waiter(key | 0, owner);
    // A waiter for another claim on the slot ends here: it would have ended at the next poll.
    waiting?.resolve();
    this.waiters.set(at, waiter);
    if (this.timer === null) this.timer = setTimeout(this.poll, POLL_MS);
    return waiter.done;
  }

  private readonly poll = (): void => {
    this.timer = null;
    const board = this.board;
    const now = Date.now();
    for (const [at, waiter] of this.waiters) {
      if (board[at] === waiter.key && board[at + 1] === waiter.owner && now < (board[at + 2]! >>> 0) * 1000) continue;
      this.waiters.delete(at);
      waiter.resolve();
    }
    if (this.waiters.size > 0) this.timer = setTimeout(this.poll, POLL_MS);
  };

  private slot(key: number): number {
    return (key & this.mask) * BOARD_WORDS;
  }
}
