/** The harness's command-line flags. */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TARGETS, type TargetSpec } from './targets.js';
import { WORKLOADS, type Workload } from './workloads.js';

const DEFAULT_RESULTS = fileURLToPath(new URL('../results/', import.meta.url));
const DEFAULT_ROUNDS = 3;
const DEFAULT_SECONDS = 8;
const WARMUP_SECONDS = 3;
/** --smoke: one short round per target and workload, rate-capped so a test run stays light. */
const SMOKE = { rounds: 1, seconds: 2, maxQps: 5000 } as const;

export const USAGE = `usage: npm run bench:throughput -- [--rounds N] [--seconds S] [--workloads hot,mixed,miss]
                                  [--targets ${TARGETS.map((target) => target.id).join(',')}]
                                  [--smoke] [--cpu-prof] [--out DIR]`;

export interface Options {
  rounds: number;
  seconds: number;
  /** 0: no warm-up round. */
  warmupSeconds: number;
  /** Rate cap for every round (dnsperf -Q), or none. */
  maxQps: number | null;
  workloads: Workload[];
  targets: TargetSpec[];
  smoke: boolean;
  /** Run Wachtpost under node --cpu-prof and report where its time went. */
  cpuProf: boolean;
  /** Where throughput.json and throughput.svg go. */
  out: string;
}

export class UsageError extends Error {}

/** The listed items in their canonical order; everything when the flag is absent. */
function listOption<T extends string>(text: string | undefined, known: readonly T[], flag: string): T[] {
  if (text === undefined) return [...known];
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  const unknown = items.filter((item) => !known.includes(item as T));
  if (unknown.length > 0 || items.length === 0) throw new UsageError(`--${flag}: unknown ${unknown.join(', ') || '(empty list)'}; known: ${known.join(', ')}`);
  return known.filter((item) => items.includes(item));
}

function countOption(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 3600) throw new UsageError(`--${flag} must be a whole number from 1 to 3600, not "${text}"`);
  return value;
}

export function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string' },
        seconds: { type: 'string' },
        workloads: { type: 'string' },
        targets: { type: 'string' },
        smoke: { type: 'boolean', default: false },
        'cpu-prof': { type: 'boolean', default: false },
        out: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const ids = listOption(values.targets, TARGETS.map((target) => target.id), 'targets');
  const seconds = countOption(values.seconds, DEFAULT_SECONDS, 'seconds');
  const timing = values.smoke
    ? { rounds: SMOKE.rounds, seconds: SMOKE.seconds, warmupSeconds: 0, maxQps: SMOKE.maxQps }
    : { rounds: countOption(values.rounds, DEFAULT_ROUNDS, 'rounds'), seconds, warmupSeconds: Math.min(WARMUP_SECONDS, seconds), maxQps: null };
  return {
    ...timing,
    workloads: listOption(values.workloads, WORKLOADS, 'workloads'),
    targets: TARGETS.filter((target) => ids.includes(target.id)),
    smoke: values.smoke,
    cpuProf: values['cpu-prof'],
    out: values.out ?? DEFAULT_RESULTS,
  };
}
