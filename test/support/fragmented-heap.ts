/**
 * Run with --expose-gc: fills the C heap with 100 MiB of small Buffers, frees all but one in
 * 64 (so glibc cannot give the pages back from the heap's top), then lets an IdleHeapTrim
 * checking every 100 ms run for a second. Prints the main heap's resident MiB before and after.
 */
import { readFileSync } from 'node:fs';
import { heapTrimmer, IdleHeapTrim } from '../../src/server/heap-trim.js';

function heapMiB(): number {
  const smaps = readFileSync('/proc/self/smaps', 'utf8');
  const rss = /Rss:\s+(\d+) kB/.exec(smaps.slice(smaps.indexOf('[heap]')));
  return rss === null ? Number.NaN : Number(rss[1]) / 1024;
}

const kept: Buffer[] = [];
let freed: Buffer[] | null = [];
for (let i = 0; i < 200_000; i++) {
  const buffer = Buffer.allocUnsafeSlow(512);
  (i % 64 === 63 ? kept : freed).push(buffer);
}
freed = null;
(globalThis as { gc?: () => void }).gc!();
const before = heapMiB();
const trim = heapTrimmer();
if (trim === null) throw new Error('the addon offers no trimHeap');
const idle = new IdleHeapTrim(trim, 100);
await new Promise((resolve) => setTimeout(resolve, 1000));
idle.stop();
process.stdout.write(`${JSON.stringify({ before, after: heapMiB(), trims: idle.trims, kept: kept.length })}\n`);
