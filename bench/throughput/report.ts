/** Turns the rounds of a run into figures: a Markdown report, JSON and an SVG bar chart. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DnsperfResult } from './dnsperf.js';
import type { WireLatency } from './wire-capture.js';
import type { Workload } from './workloads.js';

export interface RoundResult extends DnsperfResult {
  round: number;
  /** From a capture on the loopback interface (fixed-rate rounds with tcpdump only). */
  wire: WireLatency | null;
}

export interface TargetInfo {
  id: string;
  label: string;
  /** Wachtpost variants are compared with every other target. */
  wachtpost: boolean;
}

interface Range {
  median: number;
  min: number;
  max: number;
}

export interface CellSummary {
  qps: Range;
  cpuUsPerAnswer: number;
  avgLatencyMs: number | null;
  p99LatencyMs: number | null;
  /** p99 from query to reply as captured on the wire, without the load generator's own delays. */
  wireP99LatencyMs: number | null;
  lost: number;
  sent: number;
  /** Median CPU time over wall time, in % of one core. */
  cpuPercent: { server: number; dnsperf: number; knot: number; other: number };
  peakRssMiB: number;
}

export interface Cell {
  workload: Workload;
  target: string;
  rounds: RoundResult[];
  summary: CellSummary;
}

/** Every hot target held to one rate: half of `peakTarget`'s median hot rate. */
export interface FixedRateResult {
  peakTarget: string;
  peakQps: number;
  requestedQps: number;
  cells: Cell[];
}

export interface TaggingCost {
  on: string;
  off: string;
  qps: { on: number; off: number };
  cpuUsPerAnswer: { on: number; off: number };
  /** The same at the fixed rate, where neither is starved by the load generator. */
  cpuUsPerAnswerAtFixedRate: { on: number; off: number } | null;
}

export interface Report {
  date: string;
  machine: { cpus: number; cpuModel: string; node: string; kernel: string; loadAverage: { start: number; end: number } };
  versions: Record<string, string>;
  settings: { rounds: number; seconds: number; warmupSeconds: number; smoke: boolean; maxQps: number | null; dnsperf: string };
  workloads: Partial<Record<Workload, string>>;
  targets: TargetInfo[];
  cells: Cell[];
  fixedRate: FixedRateResult | null;
  taggingCost: TaggingCost | null;
  notes: string[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const medianOrNull = (values: Array<number | null>): number | null => {
  const present = values.filter((value): value is number => value !== null);
  return present.length === 0 ? null : median(present);
};

export function summarise(rounds: RoundResult[], peakRssBytes: number): CellSummary {
  const qps = rounds.map((round) => round.qps);
  const percent = (pick: (round: RoundResult) => number): number => median(rounds.map((round) => (100 * pick(round)) / round.wallSeconds));
  return {
    qps: { median: median(qps), min: Math.min(...qps), max: Math.max(...qps) },
    cpuUsPerAnswer: median(rounds.map((round) => (round.completed === 0 ? 0 : (round.cpuSeconds.server / round.completed) * 1e6))),
    avgLatencyMs: medianOrNull(rounds.map((round) => round.latency?.avgMs ?? null)),
    p99LatencyMs: medianOrNull(rounds.map((round) => round.latency?.p99Ms ?? null)),
    wireP99LatencyMs: medianOrNull(rounds.map((round) => round.wire?.latency?.p99Ms ?? null)),
    lost: rounds.reduce((sum, round) => sum + round.lost, 0),
    sent: rounds.reduce((sum, round) => sum + round.sent, 0),
    cpuPercent: {
      server: percent((round) => round.cpuSeconds.server),
      dnsperf: percent((round) => round.cpuSeconds.dnsperf),
      knot: percent((round) => round.cpuSeconds.knot),
      other: percent((round) => round.cpuSeconds.other),
    },
    peakRssMiB: peakRssBytes / 2 ** 20,
  };
}

const int = (value: number): string => Math.round(value).toLocaleString('en');
const fixed = (value: number | null, digits: number): string => (value === null ? '—' : value.toFixed(digits));
const ratio = (value: number): string => `${value >= 10 ? value.toFixed(0) : value.toFixed(2)}×`;

function labelOf(report: Report, id: string): string {
  return report.targets.find((target) => target.id === id)?.label ?? id;
}

export function markdown(report: Report): string {
  const { settings } = report;
  const out: string[] = [];
  out.push(
    `Throughput, ${settings.smoke ? 'smoke run (timings not meaningful)' : `median of ${settings.rounds} rounds of ${settings.seconds} s (min–max)`}, ` +
      `${report.machine.cpus} CPUs (${report.machine.cpuModel}), Node ${report.machine.node}, \`${settings.dnsperf}\`:`,
    '',
    '| workload | target | queries/s | server CPU µs/answer | avg latency ms | p99 latency ms | lost/sent | CPU % of a core: server / dnsperf / knot / other | peak RSS MiB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const { workload, target, summary: s } of report.cells) {
    out.push(
      `| ${workload} | ${labelOf(report, target)} | ${int(s.qps.median)} (${int(s.qps.min)}–${int(s.qps.max)}) | ${s.cpuUsPerAnswer.toFixed(1)} | ` +
        `${fixed(s.avgLatencyMs, 2)} | ${fixed(s.p99LatencyMs, 2)} | ${int(s.lost)}/${int(s.sent)} | ` +
        `${[s.cpuPercent.server, s.cpuPercent.dnsperf, s.cpuPercent.knot, s.cpuPercent.other].map((p) => p.toFixed(0)).join(' / ')} | ${s.peakRssMiB.toFixed(0)} |`,
    );
  }

  const ratios = ratioRows(report);
  if (ratios.length > 0) {
    out.push(
      '',
      'Wachtpost ÷ peer (queries/s above 1: Wachtpost is faster; CPU per answer and p99 above 1: Wachtpost costs more):',
      '',
      '| workload | Wachtpost | peer | queries/s | CPU µs/answer | p99 latency |',
      '| --- | --- | --- | ---: | ---: | ---: |',
      ...ratios,
    );
  }
  if (report.fixedRate) {
    const f = report.fixedRate;
    out.push(
      '',
      `Cache hits with every target capped at ${int(f.requestedQps)} q/s, half of ${labelOf(report, f.peakTarget)}'s median ` +
        `${int(f.peakQps)} q/s (median of ${settings.rounds} rounds):`,
      '',
      '| target | queries/s | server CPU µs/answer | avg latency ms | p99 latency ms | p99 on the wire ms | lost/sent |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...f.cells.map(
        ({ target, summary: s }) =>
          `| ${labelOf(report, target)} | ${int(s.qps.median)} | ${s.cpuUsPerAnswer.toFixed(1)} | ${fixed(s.avgLatencyMs, 3)} | ` +
          `${fixed(s.p99LatencyMs, 3)} | ${fixed(s.wireP99LatencyMs, 3)} | ${int(s.lost)}/${int(s.sent)} |`,
      ),
    );
  }
  if (report.taggingCost) {
    const t = report.taggingCost;
    const fixedRate = t.cpuUsPerAnswerAtFixedRate;
    out.push(
      '',
      `Tagging + policy + events on the hit path (hot): ${labelOf(report, t.on)} ${int(t.qps.on)} q/s, ${t.cpuUsPerAnswer.on.toFixed(1)} µs CPU/answer; ` +
        `${labelOf(report, t.off)} ${int(t.qps.off)} q/s, ${t.cpuUsPerAnswer.off.toFixed(1)} µs CPU/answer` +
        (fixedRate === null
          ? '.'
          : `; at the fixed rate ${fixedRate.on.toFixed(1)} against ${fixedRate.off.toFixed(1)} µs CPU/answer ` +
            `(${(((fixedRate.on - fixedRate.off) / fixedRate.on) * 100).toFixed(0)} % of the answer's CPU).`),
    );
  }
  if (report.notes.length > 0) out.push('', ...report.notes.map((note) => `- ${note}`));
  return `${out.join('\n')}\n`;
}

function ratioRows(report: Report): string[] {
  const rows: string[] = [];
  const isWachtpost = new Map(report.targets.map((target) => [target.id, target.wachtpost]));
  for (const cell of report.cells) {
    if (!isWachtpost.get(cell.target)) continue;
    for (const peer of report.cells) {
      if (peer.workload !== cell.workload || isWachtpost.get(peer.target)) continue;
      const a = cell.summary;
      const b = peer.summary;
      const p99 = a.p99LatencyMs !== null && b.p99LatencyMs ? ratio(a.p99LatencyMs / b.p99LatencyMs) : '—';
      const cpu = b.cpuUsPerAnswer > 0 ? ratio(a.cpuUsPerAnswer / b.cpuUsPerAnswer) : '—';
      rows.push(`| ${cell.workload} | ${labelOf(report, cell.target)} | ${labelOf(report, peer.target)} | ${ratio(a.qps.median / b.qps.median)} | ${cpu} | ${p99} |`);
    }
  }
  return rows;
}

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
export const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A step of 1, 2 or 5 × 10^n giving about five gridlines up to `max`. */
export function tickStep(max: number): number {
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((f) => f * magnitude).find((step) => step >= rough)!;
}

/** Grouped bars: median queries/s per target within each workload, with a min–max whisker. */
export function svg(report: Report): string {
  const workloads = [...new Set(report.cells.map((cell) => cell.workload))];
  const targets = report.targets.filter((target) => report.cells.some((cell) => cell.target === target.id));
  const [width, height, left, top, bottom, legendWidth] = [960, 420, 80, 40, 40, 300];
  const plotWidth = width - left - legendWidth;
  const plotHeight = height - top - bottom;
  const max = Math.max(1, ...report.cells.map((cell) => cell.summary.qps.max));
  const step = tickStep(max);
  const scaleMax = Math.ceil(max / step) * step;
  const y = (qps: number): number => top + plotHeight * (1 - qps / scaleMax);
  const groupWidth = plotWidth / Math.max(1, workloads.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, targets.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15">DNS queries per second (median, min–max), loopback, ${report.machine.cpus} CPUs</text>`,
  ];
  for (let tick = 0; tick <= scaleMax; tick += step) {
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end">${int(tick)}</text>`,
    );
  }
  workloads.forEach((workload, w) => {
    const x0 = left + w * groupWidth + groupWidth * 0.1;
    parts.push(`<text x="${left + (w + 0.5) * groupWidth}" y="${height - bottom + 20}" text-anchor="middle">${workload}</text>`);
    targets.forEach((target, t) => {
      const cell = report.cells.find((c) => c.workload === workload && c.target === target.id);
      if (!cell) return;
      const { median: mid, min, max: high } = cell.summary.qps;
      const x = x0 + t * barWidth;
      const centre = x + barWidth / 2;
      parts.push(
        `<rect x="${x}" y="${y(mid)}" width="${barWidth - 2}" height="${y(0) - y(mid)}" fill="${PALETTE[t % PALETTE.length]}"><title>${escapeXml(`${target.label}, ${workload}: ${int(mid)} q/s`)}</title></rect>`,
        `<line x1="${centre}" x2="${centre}" y1="${y(min)}" y2="${y(high)}" stroke="#000"/>`,
      );
    });
  });
  parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${y(0)}" y2="${y(0)}" stroke="#000"/>`);
  targets.forEach((target, t) => {
    const ly = top + t * 20;
    parts.push(
      `<rect x="${width - legendWidth + 20}" y="${ly}" width="12" height="12" fill="${PALETTE[t % PALETTE.length]}"/>`,
      `<text x="${width - legendWidth + 38}" y="${ly + 10}">${escapeXml(target.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Writes throughput.json and throughput.svg into `dir`. */
export async function writeResults(dir: string, report: Report): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'throughput.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'throughput.svg'), svg(report));
}
