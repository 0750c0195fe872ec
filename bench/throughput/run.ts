/**
 * `npm run bench:throughput`: Wachtpost against Unbound, dnsmasq and dnsdist (and echoes without DNS work),
 * all forwarding to one Knot upstream on loopback, loaded by dnsperf. For each workload a
 * warm-up round per target, then rounds alternating between targets (A B C A B C …) so that
 * drift on a shared machine hits every target alike. Progress on stderr, a Markdown report
 * on stdout, JSON and an SVG chart in bench/results/ (or --out).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../../test/support/tls.js';
import { DNSPERF_SETTINGS, runDnsperf } from './dnsperf.js';
import { H2LOAD_SETTINGS, runH2load } from './h2load.js';
import { USAGE, UsageError, parseOptions, type Options } from './options.js';
import { profileReport } from './cpu-profile.js';
import { findBinary, startKnot, stopAll, versionOf, wachtpostVersion, type Server } from './peers.js';
import { WireCapture } from './wire-capture.js';
import { peakRssBytes, processTree } from './procstat.js';
import { markdown, summarise, writeResults, type Cell, type FixedRateResult, type Report, type RoundResult, type TaggingCost } from './report.js';
import { CORES, checkTarget, type StartContext, type TargetSpec } from './targets.js';
import { WORKLOAD_DESCRIPTIONS, writeQueryFile, type QueryFile, type Workload } from './workloads.js';
import { writeZones } from './zones.js';

/**
 * Read-once inputs (never-seen names) hold this many queries per second of round, with 20 %
 * headroom: above any rate these targets reach here, so rounds end at their time limit
 * rather than at end of file (which is noted when it happens).
 */
const READ_ONCE_RATE: Record<'mixed' | 'miss', number> = { mixed: 150_000, miss: 100_000 };
const READ_ONCE_HEADROOM = 1.2;
/** Targets whose figures feed the fixed-rate and tagging-cost measurements. */
const PEAK_TARGET = 'wachtpost-all';
const TAGGED = 'wachtpost-1';
const UNTAGGED = 'wachtpost-1-untagged';

const startedAt = Date.now();
function progress(text: string): void {
  const elapsed = Math.round((Date.now() - startedAt) / 1000);
  process.stderr.write(`[${String(Math.floor(elapsed / 60)).padStart(2, '0')}:${String(elapsed % 60).padStart(2, '0')}] ${text}\n`);
}

const abort = new AbortController();
let workDir: string | null = null;
let cleaning: Promise<void> | null = null;
/** Ends dnsperf, stops every server and removes the temporary directory; runs once. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    abort.abort();
    await stopAll();
    if (workDir !== null) await rm(workDir, { recursive: true, force: true });
  })();
  return cleaning;
}

/** The requested targets whose binaries exist; the others are skipped with a note. */
function availableTargets(requested: readonly TargetSpec[], notes: string[]): { targets: TargetSpec[]; binaries: Record<string, string> } {
  const binaries: Record<string, string> = {};
  const targets = requested.filter((spec) => {
    if (spec.needs === undefined) return true;
    const binary = findBinary(spec.needs);
    if (binary === null) {
      notes.push(`${spec.label} skipped: ${spec.needs} is not installed (apt-get install -y ${spec.needsPackage ?? spec.needs}).`);
      progress(`skipping ${spec.id}: ${spec.needs} is not installed`);
      return false;
    }
    binaries[spec.needs] = binary;
    return true;
  });
  return { targets, binaries };
}

/** Starts and checks every target; on a failure waits for all starts, so cleanup sees every process. */
async function startTargets(targets: readonly TargetSpec[], context: StartContext, tag: string): Promise<Map<string, Server>> {
  const starts = await Promise.allSettled(
    targets.map(async (spec) => {
      const server = await spec.start(context);
      await checkTarget(spec, server, `${tag}${spec.id}`);
      return [spec.id, server] as const;
    }),
  );
  const servers = new Map<string, Server>();
  for (const start of starts) {
    if (start.status === 'rejected') throw start.reason;
    servers.set(...start.value);
  }
  return servers;
}

/** The measuring part of a run, once Knot and the targets are up. */
class Rounds {
  /** The looped inputs (hot names, as dnsperf lines or as DoH paths), written once. */
  private readonly looped = new Map<'hot' | 'doh', QueryFile>();
  private step = 0;

  constructor(
    private readonly options: Options,
    private readonly dnsperf: string,
    private readonly dir: string,
    private readonly tag: string,
    private readonly knot: Server,
    private readonly servers: Map<string, Server>,
    private readonly notes: string[],
    private readonly total: number,
    /** For latency on the wire in the fixed-rate rounds; null when missing or refused. */
    private tcpdump: string | null,
    /** The DoH load generator; null when h2load is missing (the doh workload is then skipped). */
    private readonly h2load: string | null,
  ) {}

  /** A warm-up round (not counted) and then the counted rounds, alternating between `specs`. */
  async workload(workload: Workload, specs: readonly TargetSpec[]): Promise<Cell[]> {
    const { options } = this;
    const rounds = new Map<string, RoundResult[]>(specs.map((spec) => [spec.id, []]));
    for (let round = options.warmupSeconds > 0 ? 0 : 1; round <= options.rounds; round++) {
      const seconds = round === 0 ? options.warmupSeconds : options.seconds;
      const what = round === 0 ? 'warm-up' : `round ${round}/${options.rounds}`;
      for (const [index, spec] of specs.entries()) {
        const input = await this.input(workload, `${this.tag}t${index}r${round}`, seconds);
        const result = await this.measure(spec.id, workload, round, seconds, options.maxQps, input);
        if (!input.loop) await rm(input.path, { force: true });
        this.report(`${workload} ${what} ${spec.id}`, result);
        if (round > 0) rounds.get(spec.id)!.push(result);
      }
    }
    return this.cells(workload, specs, rounds);
  }

  /**
   * Cache hits with every target held to one rate, half of `peak`'s median hot rate, rounds
   * alternating: latency without saturation, and CPU per answer where no target is starved
   * by the load generator.
   */
  async fixedRate(peak: Cell, specs: readonly TargetSpec[]): Promise<FixedRateResult> {
    const { options } = this;
    const qps = peak.summary.qps.median / 2;
    progress(`hot at half of ${peak.target}'s peak: every target capped at ${Math.round(qps).toLocaleString('en')} q/s`);
    const input = await this.input('hot', '', options.seconds);
    const rounds = new Map<string, RoundResult[]>(specs.map((spec) => [spec.id, []]));
    for (let round = 1; round <= options.rounds; round++) {
      for (const spec of specs) {
        const result = await this.measure(spec.id, 'hot', round, options.seconds, qps, input, true);
        this.report(`hot at ${Math.round(qps).toLocaleString('en')} q/s, round ${round}/${options.rounds} ${spec.id}`, result);
        rounds.get(spec.id)!.push(result);
      }
    }
    return { peakTarget: peak.target, peakQps: peak.summary.qps.median, requestedQps: qps, cells: this.cells('hot', specs, rounds) };
  }

  private report(what: string, result: RoundResult): void {
    progress(
      `[${++this.step}/${this.total}] ${what}: ${Math.round(result.qps).toLocaleString('en')} q/s, lost ${result.lost}, ` +
        `p99 ${result.latency?.p99Ms.toFixed(2) ?? '—'} ms, server CPU ${((100 * result.cpuSeconds.server) / result.wallSeconds).toFixed(0)} %`,
    );
  }

  private cells(workload: Workload, specs: readonly TargetSpec[], rounds: Map<string, RoundResult[]>): Cell[] {
    return specs.map((spec) => ({
      workload,
      target: spec.id,
      rounds: rounds.get(spec.id)!,
      summary: summarise(rounds.get(spec.id)!, peakRssBytes(processTree(this.servers.get(spec.id)!.pid))),
    }));
  }

  private async measure(
    target: string,
    workload: Workload,
    round: number,
    seconds: number,
    maxQps: number | null,
    input: QueryFile,
    onTheWire = false,
  ): Promise<RoundResult> {
    const server = this.servers.get(target)!;
    const capture = onTheWire ? await this.capture(server.port) : null;
    const common = {
      seconds,
      outputFile: join(this.dir, 'load.out'),
      signal: abort.signal,
      metered: { server: processTree(server.pid), knot: processTree(this.knot.pid) },
    };
    const result =
      workload === 'doh'
        ? await runH2load(this.h2load!, { ...common, port: server.dohPort!, paths: input.path })
        : await runDnsperf(this.dnsperf, {
            ...common,
            port: workload === 'dot' ? server.dotPort! : server.port,
            ...(workload === 'dot' ? { mode: 'dot' as const } : {}),
            input,
            ...(maxQps === null ? {} : { maxQps }),
          });
    if (result.inputExhausted && result.runSeconds < seconds * 0.95) {
      this.notes.push(`${target} ${workload} round ${round} read its whole input (${input.lines.toLocaleString('en')} queries) in ${result.runSeconds.toFixed(1)} s.`);
    }
    const wire = capture === null ? null : await capture.stop();
    if (wire !== null && wire.kernelDrops > 0) {
      this.notes.push(`The capture of ${target} round ${round} lost ${wire.kernelDrops} packets in the kernel; its wire latency is from the rest.`);
    }
    return { ...result, round, wire };
  }

  private async capture(port: number): Promise<WireCapture | null> {
    if (this.tcpdump === null) return null;
    try {
      return await WireCapture.start(this.tcpdump, port, join(this.dir, 'wire.pcap'));
    } catch (error) {
      this.notes.push(`No latency on the wire: ${(error as Error).message}`);
      this.tcpdump = null;
      return null;
    }
  }

  /** The hot input is written once and looped; the others are written per round and read once. */
  private async input(workload: Workload, label: string, seconds: number): Promise<QueryFile> {
    if (workload === 'hot' || workload === 'dot' || workload === 'doh') {
      const kind = workload === 'doh' ? 'doh' : 'hot';
      const file = this.looped.get(kind) ?? (await writeQueryFile(this.dir, kind, 'all', 0));
      this.looped.set(kind, file);
      return file;
    }
    const rate = this.options.maxQps ?? READ_ONCE_RATE[workload];
    return writeQueryFile(this.dir, workload, label, Math.ceil(seconds * rate * READ_ONCE_HEADROOM));
  }
}

function taggingCost(cells: readonly Cell[], fixedRate: FixedRateResult | null): TaggingCost | null {
  const hot = (from: readonly Cell[], id: string): Cell | undefined => from.find((cell) => cell.workload === 'hot' && cell.target === id);
  const on = hot(cells, TAGGED);
  const off = hot(cells, UNTAGGED);
  if (!on || !off) return null;
  const fixedOn = fixedRate === null ? undefined : hot(fixedRate.cells, TAGGED);
  const fixedOff = fixedRate === null ? undefined : hot(fixedRate.cells, UNTAGGED);
  return {
    on: on.target,
    off: off.target,
    qps: { on: on.summary.qps.median, off: off.summary.qps.median },
    cpuUsPerAnswer: { on: on.summary.cpuUsPerAnswer, off: off.summary.cpuUsPerAnswer },
    cpuUsPerAnswerAtFixedRate: fixedOn && fixedOff ? { on: fixedOn.summary.cpuUsPerAnswer, off: fixedOff.summary.cpuUsPerAnswer } : null,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const loadAtStart = os.loadavg()[0]!;
  const notes: string[] = [];
  const dnsperf = findBinary('dnsperf');
  const knotd = findBinary('knotd');
  if (dnsperf === null || knotd === null) {
    progress('needs dnsperf and knotd on this machine: apt-get install -y dnsperf knot');
    return 1;
  }
  const { targets, binaries } = availableTargets(options.targets, notes);
  const versions: Record<string, string> = {
    wachtpost: wachtpostVersion(),
    dnsperf: versionOf(dnsperf, ['-h'], /Version (\S+)/),
    knot: versionOf(knotd, ['--version'], /version (\S+)/),
    ...(binaries.unbound ? { unbound: versionOf(binaries.unbound, ['-V'], /Version (\S+)/) } : {}),
    ...(binaries.dnsmasq ? { dnsmasq: versionOf(binaries.dnsmasq, ['--version'], /version (\S+)/) } : {}),
  };

  const tag = randomBytes(3).toString('hex');
  const dir = (workDir = await mkdtemp(join(os.tmpdir(), 'wachtpost-throughput-')));
  progress(`writing zones (run tag ${tag}) into ${dir}`);
  const knotDir = join(dir, 'knot');
  await mkdir(knotDir);
  const knot = await startKnot(knotd, knotDir, await writeZones(knotDir));
  progress(`knot ${versions.knot} serving on 127.0.0.1:${knot.port}; starting ${targets.map((spec) => spec.id).join(', ')}`);
  // One self-signed certificate for every encrypted listener; the load generators do not verify it.
  const certificate = await makeCertificate(dir, 'bench.wachtpost.test');
  const profileDir = options.cpuProf ? join(options.out, 'profiles') : null;
  if (profileDir !== null) await rm(profileDir, { recursive: true, force: true });
  const servers = await startTargets(targets, { dir, upstreamPort: knot.port, binaries, certificate, profileDir }, tag);

  const h2load = findBinary('h2load');
  if (h2load === null && options.workloads.includes('doh')) notes.push('The doh workload was skipped: h2load is not installed (apt-get install -y nghttp2-client).');
  const workloads = options.workloads.filter((workload) => workload !== 'doh' || h2load !== null);
  const plan = workloads.map((workload) => ({ workload, specs: targets.filter((spec) => spec.workloads.includes(workload)) }));
  const roundsPerTarget = options.rounds + (options.warmupSeconds > 0 ? 1 : 0);
  const hotSpecs = plan.find(({ workload }) => workload === 'hot')?.specs ?? [];
  const total = plan.reduce((sum, { specs }) => sum + specs.length * roundsPerTarget, 0) + hotSpecs.length * options.rounds;
  const tcpdump = findBinary('tcpdump');
  if (tcpdump === null && hotSpecs.length > 0) notes.push('No latency on the wire: tcpdump is not installed (apt-get install -y tcpdump).');
  const rounds = new Rounds(options, dnsperf, dir, tag, knot, servers, notes, total, tcpdump, h2load);
  const cells: Cell[] = [];
  let fixedRate: FixedRateResult | null = null;
  for (const { workload, specs } of plan) {
    const measured = await rounds.workload(workload, specs);
    cells.push(...measured);
    const peak = measured.find((cell) => cell.workload === 'hot' && cell.target === PEAK_TARGET);
    if (peak) fixedRate = await rounds.fixedRate(peak, specs);
  }

  const loadAtEnd = os.loadavg()[0]!;
  if (cells.some((cell) => cell.target === UNTAGGED)) {
    notes.push('"Detection off" is the same resolver with detection.enabled: false: no canaries, tagging, policy or events.');
  }
  if (targets.some((spec) => spec.id === 'wachtpost-1-unfolded')) {
    notes.push('"Repeats not folded" is the same resolver with events.fold_window_ms: 0: every repeated query of a device is an event of its own.');
  }
  if (targets.some((spec) => spec.id === 'unbound')) notes.push(`Unbound runs ${CORES} threads with 64 MiB message and 128 MiB RRset caches.`);
  if (targets.some((spec) => spec.id === 'dnsmasq')) {
    notes.push('dnsmasq is single-threaded by design; its cache holds 10,000 entries, as a larger one makes every miss slow once it is full.');
  }
  notes.push(
    `Server, dnsperf and Knot share the machine's ${CORES} CPUs, as does anything else running on it, so rates compare targets ` +
      `within one run (rounds alternate) rather than being absolute. 1-minute load average ${loadAtStart.toFixed(1)} at the start, ` +
      `${loadAtEnd.toFixed(1)} at the end; "other" is the CPU the rest of the machine used during each round.`,
  );

  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      cpus: CORES,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      node: process.version,
      kernel: os.release(),
      loadAverage: { start: loadAtStart, end: loadAtEnd },
    },
    versions,
    settings: {
      rounds: options.rounds,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      smoke: options.smoke,
      maxQps: options.maxQps,
      dnsperf: workloads.includes('doh') ? `${DNSPERF_SETTINGS}; DoH: ${H2LOAD_SETTINGS}` : DNSPERF_SETTINGS,
    },
    workloads: Object.fromEntries(workloads.map((workload) => [workload, WORKLOAD_DESCRIPTIONS[workload]])),
    targets: targets.map(({ id, label, wachtpost }) => ({ id, label, wachtpost })),
    cells,
    fixedRate,
    taggingCost: taggingCost(cells, fixedRate),
    notes,
  };
  await writeResults(options.out, report);
  process.stdout.write(markdown(report));
  if (profileDir !== null) {
    // Profiles are written as each process exits.
    await stopAll();
    process.stdout.write(await profileReport(profileDir));
  }
  progress(`results in ${join(options.out, 'throughput.json')} and throughput.svg`);
  return 0;
}

// A reader that stops early (`… | head`) must not abort the run or its cleanup.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping every server`);
    void cleanup().finally(() => process.exit(130));
  });
}

const code = await main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (abort.signal.aborted) return 130;
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
});
await cleanup();
process.exitCode = code;
