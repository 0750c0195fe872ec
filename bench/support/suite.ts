import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Benchmark from 'benchmark';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

export interface CaseResult {
  name: string;
  opsPerSecond: number;
  rmePercent: number;
  samples: number;
  heapGrowthBytes: number;
}

/**
 * Runs `benchmark` cases one after another, prints ops/s ± relative margin of error and
 * heap growth per case, and writes bench/results/SUITE.json.
 */
export async function runSuite(suiteName: string, cases: Record<string, () => void>): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const [name, fn] of Object.entries(cases)) {
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const bench = new Benchmark(name, fn, { minSamples: 20, maxTime: 2 });
    await new Promise<void>((resolve) => bench.on('complete', () => resolve()).run({ async: true }));
    globalThis.gc?.();
    const result = {
      name,
      opsPerSecond: Math.round(bench.hz),
      rmePercent: Number(bench.stats.rme.toFixed(2)),
      samples: bench.stats.sample.length,
      heapGrowthBytes: process.memoryUsage().heapUsed - heapBefore,
    };
    results.push(result);
    process.stdout.write(
      `${suiteName.padEnd(16)} ${name.padEnd(48)} ${result.opsPerSecond.toLocaleString('en').padStart(13)} ops/s ±${result.rmePercent}%  heap ${(result.heapGrowthBytes / 1024).toFixed(0)} KiB\n`,
    );
  }
  await mkdir(RESULTS, { recursive: true });
  await writeFile(
    `${RESULTS}${suiteName}.json`,
    `${JSON.stringify({ suite: suiteName, node: process.version, date: new Date().toISOString(), results }, null, 2)}\n`,
  );
  return results;
}
