/**
 * Memory of a node holding N cached answers with 2 workers, for the bar "RSS ≤ 300 MB with
 * 1 M cached answers and 2 workers": a real `wachtpost serve` (the build) forwarding to a
 * real Knot on loopback, filled with N never-seen names from 8 client sockets (so both
 * workers store), once with the shared cache and once with a cache per worker. Then 50,000
 * of the names are asked again from 8 new sockets, each with a query ID of the other parity
 * than when it was fetched, so the kernel (which spreads queries over the workers by ID)
 * hands it to the other worker: the share answered from the cache is the hit rate a name
 * fetched by one worker gets on the other. Reports each process's RSS and PSS (shared pages split
 * between the processes mapping them) from /proc, the primary's shared memory (memfds) and
 * the node's total (nodeTotalKb: every process's own pages, the files they map once and
 * whole, the shared memory once, whether a worker has touched its pages or not); then the
 * same at rest, after REST_MS without queries. Run `npm run build` first.
 * Usage: node --import tsx bench/cache/shared-rss.ts [N]
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { spawnWithConfig, stopServed } from '../../test/integration/harness.js';
import { startKnot } from '../../test/support/knot.js';
import { TYPE } from '../../test/support/packets.js';
import { childPids, scrape } from '../../test/support/served.js';
import { udpStream } from '../../test/support/udp-load.js';

const count = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(count) || count < 8 || count > 5_000_000) throw new Error(`N must be a whole number from 8 to 5,000,000, not ${process.argv[2]}`);
const SOCKETS = 8;
const AGAIN = Math.min(50_000, count);
/**
 * V8 keeps the heap the fill grew (garbage included) until a process has been idle a while,
 * then its memory reducer collects and hands pages back: 60-120 s after the fill in trials.
 */
const REST_MS = 180_000;

/** kB fields of /proc/PID/smaps_rollup (Rss, Pss, Pss_Shmem, …). */
function rollup(pid: number): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (match) fields[match[1]!] = Number(match[2]);
  }
  return fields;
}

/** Asks names [from, to) split over SOCKETS sockets at once; returns the answers received. */
async function ask(port: number, from: number, to: number, tag: string): Promise<number> {
  const share = Math.ceil((to - from) / SOCKETS);
  const streams = Array.from({ length: SOCKETS }, (_, s) => {
    const start = from + s * share;
    const n = Math.max(0, Math.min(share, to - start));
    return udpStream(port, n, 64, (i) => `n${start + i}-${tag}.fill.test.wachtpost`, TYPE.A, { timeoutMs: 900_000 });
  });
  const results = await Promise.all(streams);
  return results.reduce((sum, result) => sum + result.sent - result.unanswered, 0);
}

const mib = (kb: number): number => Math.round(kb / 1024);

/**
 * kB the primary's memfds hold (the shared cache, the GeoIP copies), by name. Their pages
 * cost memory whether or not a worker has touched them, which PSS does not show: PSS counts
 * only the pages a process has mapped and touched.
 */
function memfdsKb(pid: number): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const match = /^\/memfd:([\w-]+)/.exec(target);
    if (match) sizes[match[1]!] = (sizes[match[1]!] ?? 0) + (statSync(`/proc/${pid}/fd/${fd}`).blocks * 512) / 1024;
  }
  return sizes;
}

/**
 * kB of a process's pages from /proc/PID/smaps: its own (private, or anonymous), and the
 * shared pages of each file it maps (the node binary, libraries), by path; memfds apart.
 */
function pagesOf(pid: number): { own: number; files: Map<string, number> } {
  let own = 0;
  let path = '';
  const files = new Map<string, number>();
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      path = head[1]!;
      continue;
    }
    const field = /^(Private|Shared)_(?:Clean|Dirty):\s+(\d+) kB$/.exec(line);
    if (field === null || path.startsWith('/memfd:')) continue;
    if (field[1] === 'Shared' && path.startsWith('/')) files.set(path, (files.get(path) ?? 0) + Number(field[2]));
    else own += Number(field[2]);
  }
  return { own, files };
}

const total = (values: Iterable<number>): number => [...values].reduce((sum, kb) => sum + kb, 0);

/**
 * The node's memory: every process's own pages; the pages of each file they share (the
 * node binary above all) once and whole, the most any of them holds, as if nothing else on
 * the machine mapped that file; and the shared memory once, whether touched or not. PSS
 * would split a file's pages with every process mapping it, this benchmark's own Node.js
 * included, and so count the node short by about a quarter of the binary.
 */
function nodeTotalKb(processes: ReturnType<typeof pagesOf>[], memfds: Record<string, number>): number {
  const files = new Map<string, number>();
  for (const { files: mapped } of processes) {
    for (const [path, kb] of mapped) files.set(path, Math.max(files.get(path) ?? 0, kb));
  }
  return total(processes.map((pages) => pages.own)) + total(files.values()) + total(Object.values(memfds));
}

/** The same by PSS (each process's share of what it maps, less the shared memory), as earlier runs counted. */
function nodePssKb(processes: Record<string, number>[], memfds: Record<string, number>): number {
  return total(processes.map((p) => p['Pss']! - (p['Pss_Shmem'] ?? 0))) + total(Object.values(memfds));
}

/** A per-process Node.js gauge of every worker, in MiB (prom-client's default metrics, labelled by process). */
async function workerGauge(httpPort: number, name: string): Promise<number[]> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes('process="worker-'))
    .map((line) => Math.round(Number(line.slice(line.lastIndexOf(' ') + 1)) / 1024 / 1024));
}
const knot = await startKnot();
const runs: Record<string, unknown>[] = [];
try {
  for (const shared of [true, false]) {
    const tag = `${shared ? 's' : 'u'}${Date.now().toString(36)}`;
    const served = await spawnWithConfig(`cache: { shared: ${shared}, max_entries: ${count} }`, ['--upstream', `127.0.0.1:${knot.port}`, '--workers', '2']);
    try {
      const before = childPids(served.child.pid!).map(rollup);
      const started = performance.now();
      const answered = await ask(served.port, 0, count, tag);
      const fillSeconds = (performance.now() - started) / 1000;
      const entries = await scrape(served.httpPort, 'wachtpost_cache_entries');
      const hitsBefore = await scrape(served.httpPort, 'wachtpost_cache_hits_total');
      // Names 1..AGAIN from IDs counting from 0 in each stream: every name's ID parity flips
      // (with N a multiple of 16, each fill stream starts at an even name, so ID and name agree there).
      await ask(served.port, 1, AGAIN + 1, tag);
      const againHitRate = ((await scrape(served.httpPort, 'wachtpost_cache_hits_total')) - hitsBefore) / AGAIN;
      const workers = childPids(served.child.pid!).map(rollup);
      const primary = rollup(served.child.pid!);
      const memfds = memfdsKb(served.child.pid!);
      const nodeKb = nodeTotalKb([served.child.pid!, ...childPids(served.child.pid!)].map(pagesOf), memfds);
      const run = {
        cache: shared ? 'shared' : 'per worker',
        answered,
        fillSeconds: Math.round(fillSeconds),
        entries,
        againHitRate: Math.round(againHitRate * 1000) / 1000,
        workersPssBeforeMiB: before.map((w) => mib(w['Pss']!)),
        workersRssMiB: workers.map((w) => mib(w['Rss']!)),
        workersPssMiB: workers.map((w) => mib(w['Pss']!)),
        workersSharedCacheMiB: workers.map((w) => mib(w['Pss_Shmem'] ?? 0)),
        workersPssTotalMiB: mib(workers.reduce((sum, w) => sum + w['Pss']!, 0)),
        workersPssTotalMB: Math.round((workers.reduce((sum, w) => sum + w['Pss']!, 0) * 1024) / 1e6),
        workersPssGrowthMiB: mib(workers.reduce((sum, w) => sum + w['Pss']!, 0) - before.reduce((sum, w) => sum + w['Pss']!, 0)),
        primaryPssMiB: mib(primary['Pss']!),
        sharedMemfdsMiB: Object.fromEntries(Object.entries(memfds).map(([name, kb]) => [name, mib(kb)])),
        nodeTotalMiB: mib(nodeKb),
        nodeTotalMB: Math.round((nodeKb * 1024) / 1e6),
        nodeTotalPssMiB: mib(nodePssKb([primary, ...workers], memfds)),
        workersHeapUsedMiB: await workerGauge(served.httpPort, 'nodejs_heap_size_used_bytes'),
        workersHeapTotalMiB: await workerGauge(served.httpPort, 'nodejs_heap_size_total_bytes'),
        workersExternalMiB: await workerGauge(served.httpPort, 'nodejs_external_memory_bytes'),
      };
      await new Promise((resolve) => setTimeout(resolve, REST_MS));
      const restedPids = [served.child.pid!, ...childPids(served.child.pid!)];
      const restedPages = restedPids.map(pagesOf);
      const restedMemfds = memfdsKb(served.child.pid!);
      const restedKb = nodeTotalKb(restedPages, restedMemfds);
      const restedRun = {
        ...run,
        restSeconds: REST_MS / 1000,
        atRestOwnMiB: restedPages.map((pages) => mib(pages.own)),
        nodeAtRestMiB: mib(restedKb),
        nodeAtRestMB: Math.round((restedKb * 1024) / 1e6),
        nodeAtRestPssMiB: mib(nodePssKb(restedPids.map(rollup), restedMemfds)),
      };
      process.stdout.write(`${JSON.stringify(restedRun)}\n`);
      runs.push(restedRun);
    } finally {
      await stopServed(served);
    }
  }
} finally {
  await knot.stop();
}
await writeFile(
  fileURLToPath(new URL('../results/shared-cache-memory.json', import.meta.url)),
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), names: count, runs }, null, 2)}\n`,
);
