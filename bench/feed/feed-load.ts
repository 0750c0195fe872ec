/**
 * The live feed under load: Wachtpost (enforce mode) answers a loop of app
 * names, so every query is an event, first with no feed client, then with 10 clients
 * reading everything. Reports the events per second each client received, gaps, and the
 * resolver's queries per second and CPU per answer in both phases: the feed's cost.
 * Usage: npm run build && node --import tsx bench/feed/feed-load.ts [SECONDS] [--no-history] [--workers N]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/http/auth.js';
import { runDnsperf, type DnsperfResult } from '../throughput/dnsperf.js';
import { findBinary, startKnot, startWachtpost, stopAll } from '../throughput/peers.js';
import { processTree } from '../throughput/procstat.js';
import { BLOCKED_DOMAINS, writeZones } from '../throughput/zones.js';

const CLIENTS = 10;
const seconds = Number(process.argv[2] ?? 8);
/** `--no-history`: the same without the SQLite history, to see what writing it costs. */
const history = !process.argv.includes('--no-history');
/** `--workers N`: in a cluster the feed, hub and history live in the primary, off the DNS workers. */
const workersAt = process.argv.indexOf('--workers');
const workers = workersAt > 0 ? Number(process.argv[workersAt + 1]) : 1;
const TOKEN = 'feed-benchmark-token-0123456789abcdef';
const RESULTS = (history: boolean, workers: number): string =>
  fileURLToPath(new URL(`../results/feed-load-${workers}w${history ? '' : '-no-history'}.json`, import.meta.url));

const dnsperf = findBinary('dnsperf');
const knotd = findBinary('knotd');
if (dnsperf === null || knotd === null) throw new Error('needs dnsperf and knotd (apt-get install -y dnsperf knot)');

const dir = await mkdtemp(join(tmpdir(), 'wachtpost-feed-load-'));
try {
  const knot = await startKnot(knotd, dir, await writeZones(dir));
  const wachtpost = await startWachtpost('wachtpost', join(dir, 'wachtpost'), knot.port, {
    workers,
    tagging: true,
    extra: {
      api: { tokens: [{ name: 'bench', role: 'analyst', sha256: sha256Hex(TOKEN) }] },
      // Every query its own event: the feed's worst case, not a folded count.
      events: { fold_window_ms: 0 },
      ...(history ? {} : { history: { path: '' } }),
    },
  });
  const httpPort = wachtpost.httpPort!;
  const input = join(dir, 'apps.txt');
  // 1,000 names of a blocked app: every answer is a block, so every query is an event.
  await writeFile(input, `${Array.from({ length: 1000 }, (_, i) => `api${i}.${BLOCKED_DOMAINS[0]} A`).join('\n')}\n`);
  const run = (label: string): Promise<DnsperfResult> =>
    runDnsperf(dnsperf, {
      port: wachtpost.port,
      input: { path: input, loop: true, lines: 1000 },
      seconds,
      outputFile: join(dir, `${label}.out`),
      signal: new AbortController().signal,
      metered: { server: processTree(wachtpost.pid), knot: processTree(knot.pid) },
    });

  await run('warm-up');
  const alone = await run('no-clients');

  const received = new Array<number>(CLIENTS).fill(0);
  const gaps = new Array<number>(CLIENTS).fill(0);
  const sockets = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => {
      const socket = new WebSocket(`ws://127.0.0.1:${httpPort}/feed`, { headers: { authorization: `Bearer ${TOKEN}` } });
      socket.on('message', (data) => {
        const text = String(data);
        if (text.startsWith('{"type":"event"')) received[i]!++;
        else if (text.startsWith('{"type":"gap"')) gaps[i]! += (JSON.parse(text) as { missed: number }).missed;
      });
      return new Promise<WebSocket>((resolve, reject) => {
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    }),
  );
  const watched = await run('ten-clients');
  // Let the clients drain what is still queued for them.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (const socket of sockets) socket.close();

  const perClient = received.map((count) => Math.round(count / watched.runSeconds));
  // Events a worker could not hand to a busy primary never reach the hub, so no client sees a gap for them.
  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const counter = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const result = {
    seconds,
    workers,
    history,
    alone: { qps: Math.round(alone.qps), cpuUsPerAnswer: round((alone.cpuSeconds.server / alone.completed) * 1e6) },
    tenClients: { qps: Math.round(watched.qps), cpuUsPerAnswer: round((watched.cpuSeconds.server / watched.completed) * 1e6) },
    eventsPerSecondPerClient: { min: Math.min(...perClient), max: Math.max(...perClient) },
    eventsPerSecondAllClients: perClient.reduce((sum, rate) => sum + rate, 0),
    gapMissedTotal: gaps.reduce((sum, missed) => sum + missed, 0),
    eventsPublished: counter('wachtpost_events_published_total'),
    eventsDroppedInWorkers: counter('wachtpost_events_dropped_in_workers_total'),
    eventsStored: counter('wachtpost_events_stored_total'),
    qpsRatio: round(watched.qps / alone.qps),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  await writeFile(RESULTS(history, workers), `${JSON.stringify({ node: process.version, date: new Date().toISOString(), ...result }, null, 2)}\n`);
} finally {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
