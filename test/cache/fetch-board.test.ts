import { describe, expect, it } from 'vitest';
import { cacheLayout, CacheMemory, partLengths } from '../../src/cache/cache-memory.js';
import { Claim, FetchBoard } from '../../src/cache/fetch-board.js';

/** Two workers' boards on one memory, each claim holding 1.5 s. */
function twoBoards(): [FetchBoard, FetchBoard] {
  const layout = cacheLayout(10, 1024 * 1024);
  const memory = new CacheMemory(layout, partLengths(layout).map((length) => new ArrayBuffer(length)), true, () => {});
  return [new FetchBoard(memory, 1500), new FetchBoard(memory, 1500)];
}

const NOW = Date.parse('2030-01-01T00:00:00Z');
const KEY = 0x1234_5678;

describe('FetchBoard', () => {
  it('gives each board an id of its own, never 0', () => {
    const [a, b] = twoBoards();
    expect(a.id).not.toBe(0);
    expect(b.id).not.toBe(a.id);
  });

  it('lets one fetcher claim a question; the same fetcher finds it held here, the other held elsewhere', () => {
    const [a, b] = twoBoards();
    expect(a.claim(KEY, NOW)).toBe(Claim.TAKEN);
    expect(a.claim(KEY, NOW)).toBe(Claim.HELD_HERE);
    expect(b.claim(KEY, NOW)).toBe(Claim.HELD_ELSEWHERE);
    // Keys above 32 bits are told apart by their low 32 bits, as the cache keeps them.
    expect(b.claim(KEY + 2 ** 40, NOW)).toBe(Claim.HELD_ELSEWHERE);
    // Only the holder's release ends the claim.
    b.release(KEY);
    expect(b.claim(KEY, NOW)).toBe(Claim.HELD_ELSEWHERE);
    a.release(KEY);
    expect(b.claim(KEY, NOW)).toBe(Claim.TAKEN);
  });

  it('fetches a question whose slot another question holds without the board', () => {
    const [a, b] = twoBoards();
    expect(a.claim(KEY, NOW)).toBe(Claim.TAKEN);
    // 4,096 slots: a key 4,096 further on lands on the same one.
    expect(b.claim(KEY + 4096, NOW)).toBe(Claim.UNAVAILABLE);
    expect(a.claim(KEY + 4096, NOW)).toBe(Claim.UNAVAILABLE);
    // A release for the other question leaves the claim alone.
    a.release(KEY + 4096);
    expect(b.claim(KEY, NOW)).toBe(Claim.HELD_ELSEWHERE);
  });

  it('lets a claim lapse after its hold (rounded up to the second), so another fetcher takes it over', () => {
    const [a, b] = twoBoards();
    expect(a.claim(KEY, NOW)).toBe(Claim.TAKEN);
    expect(b.claim(KEY, NOW + 1999)).toBe(Claim.HELD_ELSEWHERE);
    expect(b.claim(KEY, NOW + 2000)).toBe(Claim.TAKEN);
    expect(a.claim(KEY, NOW + 2000)).toBe(Claim.HELD_ELSEWHERE);
    // The lapsed holder's late release does not end the new claim.
    a.release(KEY);
    expect(a.claim(KEY, NOW + 2000)).toBe(Claim.HELD_ELSEWHERE);
  });

  it('wakes every waiter on a claim once it is released, in one poll', async () => {
    const [a, b] = twoBoards();
    const now = Date.now();
    a.claim(KEY, now);
    expect(b.claim(KEY, now)).toBe(Claim.HELD_ELSEWHERE);
    const woken: string[] = [];
    const first = b.settled(KEY).then(() => woken.push('first'));
    const second = b.settled(KEY).then(() => woken.push('second'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(woken).toEqual([]);
    a.release(KEY);
    await Promise.all([first, second]);
    expect(woken).toEqual(['first', 'second']);
  });

  it('does not wait for a claim released between claim() and settled()', async () => {
    const [a, b] = twoBoards();
    const now = Date.now();
    a.claim(KEY, now);
    expect(b.claim(KEY, now)).toBe(Claim.HELD_ELSEWHERE);
    a.release(KEY);
    // The slot still names the question and its lapse time; only the fetcher is gone.
    let woken = false;
    void b.settled(KEY).then(() => (woken = true));
    await Promise.resolve();
    expect(woken).toBe(true);
  });
});
