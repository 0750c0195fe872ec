/**
 * Run with --expose-gc: fills the C heap with 100 MiB of small Buffers, frees all but one in
 * 64 (so glibc cannot give the pages back from the heap's top), then lets an IdleHeapTrim
 * checking every 100 ms run for a second. Prints the process's resident anonymous MiB at the
 * start, after the fill and after the trims: anonymous memory, not the `[heap]` mapping alone,
 * because glibc moves the main arena into mmap()ed memory when the heap cannot grow in place.
 */
import { readFileSync } from 'node:fs';
import { heapTrimmer, IdleHeapTrim } from '../../src/server/heap-trim.js';

function anonymousMiB(): number {
  const rss = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return rss === null ? Number.NaN : Number(rss[1]) / 1024;
}

const start = anonymousMiB();

const kept: Buffer[] = [];
let freed: Buffer[] | null = [];
for (let i = 0; i < 200_000; i++) {
  const buffer = Buffer.allocUnsafeSlow(512);
  (i % 64 === 63 ? kept : freed).push(buffer);
}
freed = null;
(globalThis as { gc?: () => void }).gc!();
const before = anonymousMiB();
const trim = heapTrimmer();
if (trim === null) throw new Error('the addon offers no trimHeap');
const idle = new IdleHeapTrim(trim, 100);
await new Promise((resolve) => setTimeout(resolve, 1000));
idle.stop();
process.stdout.write(`${JSON.stringify({ start, before, after: anonymousMiB(), trims: idle.trims, kept: kept.length })}\n`);
