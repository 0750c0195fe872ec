/**
 * Memory of a full cache, for the bar "RSS ≤ 300 MB with 1 M cached answers": a child
 * process on the compiled build (fill.mjs; run `npm run build` first) fills the answer
 * cache with N answers as the resolver stores them (scanned, tagged) and reports its RSS.
 * Usage: node --import tsx bench/cache/memory.ts [N]
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const count = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(count) || count < 1 || count > 10_000_000) throw new Error(`N must be a whole number from 1 to 10,000,000, not ${process.argv[2]}`);
const fill = fileURLToPath(new URL('./fill.mjs', import.meta.url));
const output = execFileSync(process.execPath, ['--expose-gc', fill, String(count)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const result = JSON.parse(output) as Record<string, number>;
process.stdout.write(`${JSON.stringify(result)}\n`);
await writeFile(
  fileURLToPath(new URL('../results/cache-memory.json', import.meta.url)),
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), ...result }, null, 2)}\n`,
);
