/**
 * `node --import tsx bench/soak/run.ts [--minutes 30] [--qps 4000] [--workers 2] [--out DIR]`:
 * a soak of `wachtpost serve` from dist/ (run `npm run build` first). For the whole run,
 * dnsperf sends a capped mix with cache churn (hot names, names spread over a 100,000-name
 * zone, never-seen names) against a cache kept small, a hostile TCP client keeps idle
 * connections, slow senders and unread pipelines going, and the Knot upstream is stopped
 * (SIGSTOP) every other minute. Per minute: worker RSS, open descriptors, dnsperf's lost
 * queries, SERVFAILs and the resolver's own counters; JSON and an SVG curve in
 * bench/results/ (soak.json, soak.svg). Loopback only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runDnsperf } from '../throughput/dnsperf.js';
import { findBinary, stopAll, versionOf, wachtpostVersion } from '../throughput/peers.js';
import { FRESH_SUFFIX, benchName } from '../throughput/zones.js';
import { HUGE, metric, mib, openFds, startServer, startUpstream, statusKb, workerPids } from '../hardening/servers.js';
import { soakSvg } from './chart.js';
import { HostileTcp } from './hostile.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    qps: { type: 'string', default: '4000' },
    workers: { type: 'string', default: '2' },
    out: { type: 'string', default: fileURLToPath(new URL('../results/', import.meta.url)) },
  },
  strict: true,
});
const whole = (text: string, flag: string, max: number): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${flag} must be a whole number from 1 to ${max}, not "${text}"`);
  return value;
};
const MINUTES = whole(values.minutes!, 'minutes', 600);
const QPS = whole(values.qps!, 'qps', 200_000);
const WORKERS = whole(values.workers!, 'workers', 64);

/** Kept small, so the churn evicts all the time; short TTLs, so stale answers are needed when the upstream stops. */
const SETTINGS = { cache: { max_entries: 20_000, max_bytes: 16 * 1024 * 1024, max_ttl: 30 } };
const OUTSTANDING = 5000;
const DNSPERF_TIMEOUT_S = 3;
const HOT_NAMES = 1000;
const SPREAD_NAMES = 100_000;
/** Out of every 20 queries: 14 hot, 5 spread over the whole zone, 1 never seen. */
const MIX = { hot: 14, spread: 5, fresh: 1 } as const;

const dnsperf = findBinary('dnsperf');
if (dnsperf === null) throw new Error('dnsperf is not installed (apt-get install -y dnsperf)');

function progress(text: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

/** The minute's input: `lines` queries of the mix, never-seen names tagged with the minute. */
async function queryFile(dir: string, minute: number, lines: number): Promise<{ path: string; loop: boolean; lines: number }> {
  const path = join(dir, `minute-${minute}.txt`);
  const file = await open(path, 'w');
  const tag = `${randomBytes(3).toString('hex')}m${minute}`;
  let spread = minute * 7919;
  try {
    const chunk: string[] = [];
    for (let i = 0; i < lines; i++) {
      const slot = i % 20;
      const type = i % 5 === 4 ? 'AAAA' : 'A';
      if (slot < MIX.hot) chunk.push(`${benchName(i % HOT_NAMES)} ${type}`);
      else if (slot < MIX.hot + MIX.spread) chunk.push(`${benchName((spread = (spread + 7919) % SPREAD_NAMES))} ${type}`);
      else chunk.push(`${tag}-${i}.${FRESH_SUFFIX} ${type}`);
      if (chunk.length === 10_000) await file.write(`${chunk.splice(0).join('\n')}\n`);
    }
    if (chunk.length > 0) await file.write(`${chunk.join('\n')}\n`);
  } finally {
    await file.close();
  }
  return { path, loop: false, lines };
}

interface MinuteResult {
  minute: number;
  upstream: 'up' | 'stopped';
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  servfail: number;
  rcodes: Record<string, number>;
  p99Ms: number | null;
  workerRssMiB: number[];
  openFds: { primary: number; workers: number[] };
  resolver: Record<string, number>;
  hostile: ReturnType<HostileTcp['snapshot']>;
}

const RESOLVER_METRICS = [
  'wachtpost_cache_entries',
  'wachtpost_cache_answer_bytes',
  'wachtpost_cache_stale_total',
  'wachtpost_cache_evictions_total',
  'wachtpost_tcp_connections',
  'wachtpost_tcp_refused_total',
  'wachtpost_tcp_closed_total',
  'wachtpost_tcp_reads_paused_total',
  'wachtpost_upstream_failing',
  'wachtpost_rate_limited_total',
];

const dir = await mkdtemp(join(os.tmpdir(), 'wachtpost-soak-'));
const abort = new AbortController();
let hostile: HostileTcp | null = null;
let knotPid = 0;
const cleanup = async (): Promise<void> => {
  abort.abort();
  if (knotPid !== 0) process.kill(knotPid, 'SIGCONT');
  await hostile?.stop();
  await stopAll();
  await rm(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

const minutes: MinuteResult[] = [];
const startedAt = new Date().toISOString();
try {
  progress('starting Knot and Wachtpost');
  const knot = await startUpstream(dir);
  knotPid = knot.pid;
  const server = await startServer('soak', dir, knot.port, WORKERS, SETTINGS);
  hostile = new HostileTcp({ host: '127.0.0.1', port: server.port }, HUGE);
  hostile.start();
  for (let minute = 0; minute < MINUTES; minute++) {
    const stopped = minute % 2 === 1;
    process.kill(knot.pid, stopped ? 'SIGSTOP' : 'SIGCONT');
    const input = await queryFile(dir, minute, Math.ceil(QPS * 60 * 1.05));
    const result = await runDnsperf(dnsperf, {
      port: server.port,
      input,
      seconds: 60,
      maxQps: QPS,
      // Enough outstanding that questions waiting out a stopped upstream do not throttle the
      // load, and a timeout beyond Wachtpost's 2 s deadline, so its SERVFAIL is not a loss.
      outstanding: OUTSTANDING,
      timeoutSeconds: DNSPERF_TIMEOUT_S,
      outputFile: join(dir, 'dnsperf.out'),
      signal: abort.signal,
      metered: { server: [server.pid, ...workerPids(server)], knot: [knot.pid] },
    });
    await rm(input.path, { force: true });
    const workers = workerPids(server);
    const resolver: Record<string, number> = {};
    for (const name of RESOLVER_METRICS) resolver[name] = await metric(server, name);
    const row: MinuteResult = {
      minute: minute + 1,
      upstream: stopped ? 'stopped' : 'up',
      sent: result.sent,
      completed: result.completed,
      lost: result.lost,
      qps: Math.round(result.qps),
      servfail: result.rcodes.SERVFAIL ?? 0,
      rcodes: result.rcodes,
      p99Ms: result.latency?.p99Ms ?? null,
      workerRssMiB: workers.map((pid) => mib(statusKb(pid, 'VmRSS'))),
      openFds: { primary: openFds(server.pid), workers: workers.map(openFds) },
      resolver,
      hostile: hostile.snapshot(),
    };
    minutes.push(row);
    progress(
      `minute ${row.minute}/${MINUTES} (upstream ${row.upstream}): ${row.qps} q/s, lost ${row.lost}, SERVFAIL ${row.servfail}, ` +
        `RSS ${row.workerRssMiB.join(' + ')} MiB, FDs ${row.openFds.primary} + ${row.openFds.workers.join(' + ')}, TCP ${resolver.wachtpost_tcp_connections}`,
    );
  }
} finally {
  await cleanup();
}

const report = {
  startedAt,
  version: wachtpostVersion(),
  dnsperf: `dnsperf ${versionOf(dnsperf, ['-h'], /Version (\S+)/)}: -c 8 -q ${OUTSTANDING} -t ${DNSPERF_TIMEOUT_S} -Q ${QPS} -l 60 -v, read once`,
  machine: { cpus: os.availableParallelism(), node: process.version },
  settings: { minutes: MINUTES, qps: QPS, workers: WORKERS, wachtpost: SETTINGS, mix: MIX },
  minutes,
};
await mkdir(values.out!, { recursive: true });
await writeFile(join(values.out!, 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
const down = minutes.map((row) => row.upstream === 'stopped');
const perWorker = (pick: (row: MinuteResult) => number[]): Array<{ label: string; values: number[] }> =>
  Array.from({ length: WORKERS }, (_, w) => ({ label: `worker ${w + 1}`, values: minutes.map((row) => pick(row)[w] ?? 0) }));
await writeFile(
  join(values.out!, 'soak.svg'),
  soakSvg(`Soak: ${MINUTES} min, ${QPS.toLocaleString('en')} q/s with cache churn, hostile TCP, upstream stopped every other minute`, minutes.length, down, [
    { title: 'worker RSS, MiB', series: perWorker((row) => row.workerRssMiB) },
    { title: 'open file descriptors', series: [{ label: 'primary', values: minutes.map((row) => row.openFds.primary) }, ...perWorker((row) => row.openFds.workers)] },
    {
      title: 'per minute: queries lost, SERVFAIL',
      series: [
        { label: 'lost (dnsperf)', values: minutes.map((row) => row.lost) },
        { label: 'SERVFAIL', values: minutes.map((row) => row.servfail) },
      ],
    },
    { title: 'open TCP connections (hostile client)', series: [{ label: 'held by workers', values: minutes.map((row) => row.resolver.wachtpost_tcp_connections ?? 0) }] },
  ]),
);
progress(`wrote ${join(values.out!, 'soak.json')} and soak.svg`);
