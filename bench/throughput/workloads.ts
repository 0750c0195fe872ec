/** dnsperf input files ("NAME TYPE" per line) for the three workloads. */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeQuery, TYPE } from '../../test/support/packets.js';
import { BLOCKED_DOMAINS, FRESH_SUFFIX, benchName } from './zones.js';

export type Workload = 'hot' | 'mixed' | 'miss' | 'dot' | 'doh';
export const WORKLOADS: readonly Workload[] = ['hot', 'mixed', 'miss', 'dot', 'doh'];
/** The workloads that loop over the hot names (cache hits), over whichever transport. */
export const HOT_WORKLOADS: readonly Workload[] = ['hot', 'dot', 'doh'];

export const WORKLOAD_DESCRIPTIONS: Record<Workload, string> = {
  hot: '1,000 names repeated, 80 % A / 20 % AAAA: cache hits after warm-up',
  mixed: '85 % hot names (hits), 10 % catalogued app names that policy blocks, 5 % never-seen names forwarded upstream',
  miss: 'every name new (wildcard answer from the upstream): every query forwarded',
  dot: 'the hot names over DNS over TLS (dnsperf -m dot, 8 connections): cache hits',
  doh: 'the hot names over DNS over HTTPS (h2load, GET ?dns=, 8 HTTP/2 connections of 16 streams): cache hits',
};

const HOT_NAMES = 1000;
/** Blocked names cycle through this many hosts per app domain, as real app traffic repeats. */
const BLOCKED_HOSTS = 100;
/** Out of every 20 mixed queries: 17 hits, 2 blocked, 1 never-seen. */
const MIXED_PATTERN = 20;
const MIXED_HITS = 17;
const MIXED_BLOCKED = 2;
const CHUNK_LINES = 10_000;

/** A written input file and whether dnsperf may loop over it within a round. */
export interface QueryFile {
  path: string;
  /** false: read once (`-n 1`), so never-seen names are never repeated. */
  loop: boolean;
  lines: number;
}

const qtype = (i: number): string => (i % 5 === 4 ? 'AAAA' : 'A');
const hotLine = (i: number): string => `${benchName(i % HOT_NAMES)} ${qtype(i % HOT_NAMES)}`;
const blockedLine = (i: number): string => `api${i % BLOCKED_HOSTS}.${BLOCKED_DOMAINS[i % BLOCKED_DOMAINS.length]} ${qtype(i)}`;
/** `tag` is unique per run, target and round, so these names are new to every cache. */
const freshLine = (tag: string, i: number): string => `${tag}-${i}.${FRESH_SUFFIX} ${qtype(i)}`;

/** A hot question as a DoH GET path: the query (ID 0, RFC 8484 §4.1) in unpadded base64url. */
function dohPath(i: number): string {
  const [name, type] = hotLine(i).split(' ') as [string, string];
  return `/dns-query?dns=${encodeQuery(name, TYPE[type as 'A' | 'AAAA'], { id: 0 }).toString('base64url')}`;
}

function lineOf(workload: Workload, tag: string, i: number): string {
  switch (workload) {
    case 'hot':
    case 'dot':
      return hotLine(i);
    case 'doh':
      return dohPath(i);
    case 'miss':
      return freshLine(tag, i);
    case 'mixed': {
      const slot = i % MIXED_PATTERN;
      const cycle = Math.floor(i / MIXED_PATTERN);
      if (slot < MIXED_HITS) return hotLine(cycle * MIXED_HITS + slot);
      if (slot < MIXED_HITS + MIXED_BLOCKED) return blockedLine(cycle * MIXED_BLOCKED + slot - MIXED_HITS);
      return freshLine(tag, cycle);
    }
  }
}

/**
 * Writes the input for one round. `hot` is the 1,000 hot questions, looped for the whole
 * round; `mixed` and `miss` carry never-seen names, so they hold `lines` queries (enough
 * for the round at the fastest expected rate) and are read once.
 */
export async function writeQueryFile(dir: string, workload: Workload, tag: string, lines: number): Promise<QueryFile> {
  const loop = HOT_WORKLOADS.includes(workload);
  const count = loop ? HOT_NAMES : lines;
  const path = join(dir, `${workload}-${tag}.txt`);
  const file = await open(path, 'w');
  try {
    for (let start = 0; start < count; start += CHUNK_LINES) {
      const chunk: string[] = [];
      for (let i = start; i < Math.min(count, start + CHUNK_LINES); i++) chunk.push(lineOf(workload, tag, i));
      await file.write(`${chunk.join('\n')}\n`);
    }
  } finally {
    await file.close();
  }
  return { path, loop, lines: count };
}

/** One name of each kind, for checking a target before it is measured. */
export const SAMPLE = {
  hot: benchName(0),
  blocked: `api0.${BLOCKED_DOMAINS[0]}`,
  fresh: (tag: string): string => `${tag}-probe.${FRESH_SUFFIX}`,
} as const;
