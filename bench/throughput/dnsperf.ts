/**
 * Runs dnsperf against one loopback target and reads its results: the summary it prints,
 * and, from the per-query lines of `-v` (this dnsperf has no latency histogram option),
 * every response's latency, for percentiles.
 */
import { spawn } from 'node:child_process';
import { createReadStream, openSync, closeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { cpuSeconds, machineBusySeconds, reapedChildrenCpuSeconds } from './procstat.js';
import type { QueryFile } from './workloads.js';

/**
 * Simulated clients (distinct source ports) and queries kept outstanding: enough to keep
 * every target here busy, while bursts stay within a default 208 KiB socket buffer
 * (dnsmasq cannot be given a larger one; at 500 it drops a share of every burst).
 */
const CLIENTS = 8;
const OUTSTANDING = 100;
/** A query unanswered this long counts as lost; Wachtpost's own upstream deadline is 2 s. */
const TIMEOUT_S = 2;
/** Beyond the time limit and the timeout, how long dnsperf may take before it is killed. */
const KILL_SLACK_S = 15;
/** For the report: how the load was generated. */
export const DNSPERF_SETTINGS = `dnsperf -c ${CLIENTS} -q ${OUTSTANDING} -t ${TIMEOUT_S} -v`;

export interface DnsperfRun {
  port: number;
  /** dnsperf's transport: UDP (default) or DNS over TLS (`-m dot`). */
  mode?: 'udp' | 'dot';
  input: QueryFile;
  seconds: number;
  /** `-Q`: cap on queries per second. */
  maxQps?: number;
  /** `-q` and `-t` instead of the throughput settings (the soak waits out upstream deadlines). */
  outstanding?: number;
  timeoutSeconds?: number;
  /** Where dnsperf's verbose output is kept while it runs (deleted after parsing). */
  outputFile: string;
  signal: AbortSignal;
  /** Process trees whose CPU time is read just before dnsperf starts and just after it exits. */
  metered: { server: readonly number[]; knot: readonly number[] };
}

export interface LatencySummary {
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  runSeconds: number;
  qps: number;
  rcodes: Record<string, number>;
  latency: LatencySummary | null;
  /** From dnsperf's start to its exit. */
  wallSeconds: number;
  /** CPU time (user + system) over that interval; `other`: the rest of the machine's busy time. */
  cpuSeconds: { server: number; knot: number; dnsperf: number; other: number };
  /** true when a read-once input ran out before the time limit. */
  inputExhausted: boolean;
}

/** What a load generator's run measured besides its own figures: wall time, and CPU per process tree. */
export interface Metered {
  wallSeconds: number;
  cpuSeconds: DnsperfResult['cpuSeconds'];
}

/**
 * Runs a load generator to completion with its stdout in `outputFile`, reading the CPU the
 * server, Knot, the generator (a reaped child) and the rest of the machine used meanwhile.
 * Killed when it outlives `killAfterSeconds`; a non-zero exit is an error with its stderr.
 */
export async function runMetered(
  binary: string,
  args: string[],
  run: { outputFile: string; signal: AbortSignal; metered: DnsperfRun['metered'] },
  killAfterSeconds: number,
): Promise<Metered> {
  const out = openSync(run.outputFile, 'w');
  const sample = () => ({
    server: cpuSeconds(run.metered.server),
    knot: cpuSeconds(run.metered.knot),
    dnsperf: reapedChildrenCpuSeconds(),
    machine: machineBusySeconds(),
  });
  const before = sample();
  const started = performance.now();
  let stderr = '';
  const child = spawn(binary, args, { stdio: ['ignore', out, 'pipe'], signal: run.signal, killSignal: 'SIGKILL' });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterSeconds * 1000);
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
  } finally {
    clearTimeout(killer);
    closeSync(out);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const after = sample();
  const used = { server: after.server - before.server, knot: after.knot - before.knot, dnsperf: after.dnsperf - before.dnsperf };
  const other = Math.max(0, after.machine - before.machine - used.server - used.knot - used.dnsperf);
  if (code !== 0) {
    await rm(run.outputFile, { force: true });
    throw new Error(`${binary} ${args.join(' ')} exited with ${code}\n${stderr}`);
  }
  return { wallSeconds, cpuSeconds: { ...used, other } };
}

export async function runDnsperf(binary: string, run: DnsperfRun): Promise<DnsperfResult> {
  const args = [
    ...(run.mode === 'dot' ? ['-m', 'dot'] : []),
    ...['-s', '127.0.0.1', '-p', String(run.port), '-d', run.input.path],
    ...['-l', String(run.seconds), '-c', String(CLIENTS), '-q', String(run.outstanding ?? OUTSTANDING), '-t', String(run.timeoutSeconds ?? TIMEOUT_S), '-v'],
    ...(run.input.loop ? [] : ['-n', '1']),
    ...(run.maxQps === undefined ? [] : ['-Q', String(Math.max(1, Math.round(run.maxQps)))]),
  ];
  const metered = await runMetered(binary, args, run, run.seconds + (run.timeoutSeconds ?? TIMEOUT_S) + KILL_SLACK_S);
  try {
    return { ...(await parseOutput(run.outputFile)), ...metered };
  } finally {
    await rm(run.outputFile, { force: true });
  }
}

/**
 * Per-query lines ("> NOERROR name A 0.000123") give latencies; "> T name A" (timed out)
 * and "> I name A" (still outstanding at the end) carry none. The rest is the summary.
 */
async function parseOutput(file: string): Promise<Omit<DnsperfResult, 'wallSeconds' | 'cpuSeconds'>> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const summary: string[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line.startsWith('> T ') || line.startsWith('> I ')) continue;
    if (line.startsWith('> ')) {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = Number(line.slice(line.lastIndexOf(' ') + 1));
    } else {
      summary.push(line);
    }
  }
  const text = summary.join('\n');
  const number = (label: string): number => {
    const match = new RegExp(`${label}:\\s+([\\d.]+)`).exec(text);
    if (!match) throw new Error(`dnsperf output lacks "${label}":\n${text}`);
    return Number(match[1]);
  };
  const rcodes: Record<string, number> = {};
  for (const [, rcode, n] of (/Response codes:\s+(.*)/.exec(text)?.[1] ?? '').matchAll(/([A-Z]+) (\d+)/g)) rcodes[rcode!] = Number(n);
  return {
    sent: number('Queries sent'),
    completed: number('Queries completed'),
    lost: number('Queries lost'),
    runSeconds: number('Run time \\(s\\)'),
    qps: number('Queries per second'),
    rcodes,
    latency: summarise(latencies.subarray(0, count)),
    inputExhausted: text.includes('end of file'),
  };
}

/** Average, median, p99 and maximum of latencies given in seconds, in milliseconds. */
export function summarise(seconds: Float64Array): LatencySummary | null {
  if (seconds.length === 0) return null;
  const sorted = seconds.slice().sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 1000;
  return {
    avgMs: (sorted.reduce((sum, value) => sum + value, 0) / sorted.length) * 1000,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: sorted[sorted.length - 1]! * 1000,
  };
}
