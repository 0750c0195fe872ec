import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/**
 * The wachtpost_* metric families src/ registers, found in its source, and which of them
 * are histograms (queried as _bucket, _sum and _count).
 */
export function registeredMetrics(): { names: Set<string>; histograms: Set<string> } {
  const names = new Set<string>();
  const histograms = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of [
      /\bname:\s*'(wachtpost_[a-z0-9_]+)'/g,
      /\b(?:counter|gauge)\(\s*'(wachtpost_[a-z0-9_]+)'/g,
      /\b(?:collectedCounter|collectedGauge)\(\s*registry,\s*'(wachtpost_[a-z0-9_]+)'/g,
    ]) {
      for (const match of text.matchAll(pattern)) names.add(match[1]!);
    }
    for (const pattern of [/new\s+Histogram\(\s*\{\s*name:\s*'(wachtpost_[a-z0-9_]+)'/g, /new\s+CollectedHistogram\(\s*registry,\s*'(wachtpost_[a-z0-9_]+)'/g]) {
      for (const match of text.matchAll(pattern)) histograms.add(match[1]!);
    }
  }
  return { names, histograms };
}

/** Whether `series` (as a query names it) is a registered family or a histogram's part. */
export function isRegistered(series: string, { names, histograms }: ReturnType<typeof registeredMetrics>): boolean {
  const part = /^(.*)_(bucket|sum|count)$/.exec(series);
  return names.has(series) || histograms.has(series) || (part !== null && histograms.has(part[1]!));
}
