import { Header, type CacheMemory } from './cache-memory.js';

/** Failed attempts between yields of the CPU, and between checks that the holder lives. */
const SPINS_PER_YIELD = 64;
const SPINS_PER_CHECK = 16_384;

/**
 * The one lock of a cache's memory: a word holding the holder's process id, taken with
 * compare-and-swap. Every operation holds it for a lookup or a store (well under a
 * microsecond, a copy of the answer included), so workers rarely meet; a waiter spins
 * reading the word (test and test-and-set), yields the CPU now and then, and when the
 * holder has died (killed between taking and giving back the lock, leaving the structure
 * half changed) takes the lock over and tells its caller to empty the cache. Taking the lock twice in one process is a bug, and throws.
 */
export class CacheLock {
  private readonly header: Int32Array;
  private readonly pause: () => void;
  private readonly id = process.pid;

  constructor(memory: CacheMemory) {
    this.header = memory.header;
    this.pause = memory.pause;
  }

  /** Takes the lock; true when it was taken over from a dead holder (the cache must be emptied). */
  take(): boolean {
    return Atomics.compareExchange(this.header, Header.LOCK, 0, this.id) === 0 ? false : this.wait();
  }

  give(): void {
    Atomics.store(this.header, Header.LOCK, 0);
  }

  private wait(): boolean {
    for (let spins = 1; ; spins++) {
      // Read until it looks free, then try: spinning on compare-and-swap would keep taking
      // the line from the holder, which must write it to give the lock back.
      const holder = Atomics.load(this.header, Header.LOCK);
      if (holder === 0 && Atomics.compareExchange(this.header, Header.LOCK, 0, this.id) === 0) return false;
      if (holder === this.id) throw new Error('the cache lock was taken twice by one process');
      if (spins % SPINS_PER_YIELD === 0) this.pause();
      if (spins % SPINS_PER_CHECK === 0 && !alive(holder)) {
        if (Atomics.compareExchange(this.header, Header.LOCK, holder, this.id) === holder) return true;
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
