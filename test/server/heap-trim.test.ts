import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IdleHeapTrim } from '../../src/server/heap-trim.js';

const FRAGMENTED = fileURLToPath(new URL('../support/fragmented-heap.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('IdleHeapTrim', () => {
  it('gives a fragmented C heap back to the kernel once the process is idle', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', FRAGMENTED], { timeout: 30_000 });
    const { start, before, after, trims } = JSON.parse(stdout) as { start: number; before: number; after: number; trims: number };
    // 100 MiB of 512-byte blocks with one in 64 kept: free() alone gives nothing back.
    expect(before - start).toBeGreaterThan(80);
    expect(trims).toBeGreaterThan(0);
    expect(after).toBeLessThan(before - 60);
  });

  it('does not trim after an interval the event loop spent busy', async () => {
    let trims = 0;
    const idle = new IdleHeapTrim(() => {
      trims++;
      return true;
    }, 100);
    try {
      const until = performance.now() + 350;
      while (performance.now() < until); // the whole interval busy
      await sleep(20); // the check that was due runs now, and finds it busy
      expect(trims).toBe(0);
      await sleep(250); // then idle intervals
      expect(trims).toBeGreaterThan(0);
    } finally {
      idle.stop();
    }
  });
});
