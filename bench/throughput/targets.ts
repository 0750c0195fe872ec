/** What can be measured: each target, how it starts, which workloads suit it, and what it must answer. */
import os from 'node:os';
import { join } from 'node:path';
import { startBatchedEcho, startCEcho, startDnsdist, startDnsmasq, startEcho, startUnbound, startWachtpost, startWachtpostWithDnstap, type Certificate, type Server } from './peers.js';
import { ask, type ProbeReply } from './probe.js';
import type { TargetInfo } from './report.js';
import { SAMPLE, WORKLOADS, type Workload } from './workloads.js';

export const CORES = os.availableParallelism();

export interface StartContext {
  dir: string;
  upstreamPort: number;
  /** Absolute paths of the peers' binaries that were found. */
  binaries: Record<string, string>;
  /** For the encrypted listeners (self-signed, made for the run). */
  certificate: Certificate;
  /** Where Wachtpost targets write CPU profiles (a folder per target), or null for none. */
  profileDir: string | null;
}

export interface TargetSpec extends TargetInfo {
  workloads: readonly Workload[];
  /** A DNS resolver (so checked for real answers), not the echo. */
  resolver: boolean;
  /** Answers NXDOMAIN for the catalogued app names. */
  blocks: boolean;
  /** The binary it needs; the target is skipped with a note when missing. */
  needs?: string;
  /** The Debian package holding `needs`, when its name differs. */
  needsPackage?: string;
  start(context: StartContext): Promise<Server>;
}

const wachtpost = (id: string, workers: number, tagging: boolean, extra?: Record<string, unknown>, encrypted = false) => (context: StartContext) =>
  startWachtpost(id, join(context.dir, id), context.upstreamPort, {
    workers,
    tagging,
    extra,
    ...(encrypted ? { certificate: context.certificate } : {}),
    ...(context.profileDir === null ? {} : { profileDir: join(context.profileDir, id) }),
  });

/** In this order within every round, so a workload's rounds go A B C A B C … */
export const TARGETS: readonly TargetSpec[] = [
  { id: 'wachtpost-1', label: 'Wachtpost, 1 worker', wachtpost: true, workloads: WORKLOADS, resolver: true, blocks: true, start: wachtpost('wachtpost-1', 1, true, undefined, true) },
  {
    id: 'wachtpost-all',
    label: `Wachtpost, ${CORES} workers`,
    wachtpost: true,
    workloads: WORKLOADS,
    resolver: true,
    blocks: true,
    start: wachtpost('wachtpost-all', CORES, true, undefined, true),
  },
  {
    id: 'wachtpost-all-unshared',
    label: `Wachtpost, ${CORES} workers, a cache per worker`,
    wachtpost: true,
    workloads: ['hot', 'mixed', 'miss'],
    resolver: true,
    blocks: true,
    start: wachtpost('wachtpost-all-unshared', CORES, true, { cache: { shared: false } }),
  },
  {
    id: 'wachtpost-1-untagged',
    label: 'Wachtpost, 1 worker, detection off',
    wachtpost: true,
    workloads: ['hot'],
    resolver: true,
    blocks: false,
    start: wachtpost('wachtpost-1-untagged', 1, false),
  },
  {
    id: 'wachtpost-1-unfolded',
    label: 'Wachtpost, 1 worker, repeats not folded',
    wachtpost: true,
    workloads: ['hot'],
    resolver: true,
    blocks: true,
    start: wachtpost('wachtpost-1-unfolded', 1, true, { events: { fold_window_ms: 0 } }),
  },
  {
    id: 'wachtpost-1-dnstap',
    label: 'Wachtpost, 1 worker, dnstap on',
    wachtpost: true,
    workloads: ['hot'],
    resolver: true,
    blocks: true,
    needs: 'dnstap',
    needsPackage: 'golang-github-dnstap-golang-dnstap-cli',
    start: (context) =>
      startWachtpostWithDnstap('wachtpost-1-dnstap', join(context.dir, 'wachtpost-1-dnstap'), context.upstreamPort, context.binaries.dnstap!, { workers: 1, tagging: true }),
  },
  {
    id: 'unbound',
    label: `Unbound (${CORES} threads)`,
    wachtpost: false,
    workloads: WORKLOADS,
    resolver: true,
    blocks: true,
    needs: 'unbound',
    start: (context) => startUnbound(context.binaries.unbound!, join(context.dir, 'unbound'), context.upstreamPort, CORES, context.certificate),
  },
  {
    id: 'dnsdist',
    label: 'dnsdist (packet cache)',
    wachtpost: false,
    workloads: ['hot', 'dot', 'doh'],
    resolver: true,
    blocks: true,
    needs: 'dnsdist',
    start: (context) => startDnsdist(context.binaries.dnsdist!, join(context.dir, 'dnsdist'), context.upstreamPort, context.certificate),
  },
  {
    id: 'dnsmasq',
    label: 'dnsmasq (1 process)',
    wachtpost: false,
    workloads: ['hot', 'mixed', 'miss'],
    resolver: true,
    blocks: true,
    needs: 'dnsmasq',
    start: (context) => startDnsmasq(context.binaries.dnsmasq!, join(context.dir, 'dnsmasq'), context.upstreamPort),
  },
  // Answers without DNS work, so only the hot workload means anything for them: what the
  // UDP path costs through Node's dgram, through the addon as Wachtpost's workers use it,
  // and with the same batched system calls from C, without Node.
  { id: 'echo', label: 'Node UDP echo (no DNS work)', wachtpost: false, workloads: ['hot'], resolver: false, blocks: false, start: () => startEcho() },
  {
    id: 'echo-batched',
    label: `Batched echo, ${CORES} processes (no DNS work)`,
    wachtpost: false,
    workloads: ['hot'],
    resolver: false,
    blocks: false,
    start: () => startBatchedEcho(CORES),
  },
  {
    id: 'echo-c',
    label: `C echo, ${CORES} processes (no DNS work)`,
    wachtpost: false,
    workloads: ['hot'],
    resolver: false,
    blocks: false,
    needs: 'cc',
    needsPackage: 'gcc',
    start: (context) => startCEcho(context.binaries.cc!, join(context.dir, 'echo-c'), CORES),
  },
];

const answered = (reply: ProbeReply): boolean => reply.rcode === 'NOERROR' && reply.answers > 0;

/**
 * Refuses to measure a target that answers wrongly (a fast wrong answer is no result):
 * a hot name and a never-seen name must resolve, a catalogued app name must be blocked
 * by the targets that block and resolve on the others.
 */
export async function checkTarget(spec: TargetSpec, server: Server, tag: string): Promise<void> {
  if (!spec.resolver) return;
  const expectations = [
    { name: SAMPLE.hot, expect: answered, what: 'resolve' },
    { name: SAMPLE.fresh(tag), expect: answered, what: 'resolve through the upstream' },
    spec.blocks
      ? { name: SAMPLE.blocked, expect: (reply: ProbeReply) => reply.rcode === 'NXDOMAIN', what: 'be blocked (NXDOMAIN)' }
      : { name: SAMPLE.blocked, expect: answered, what: 'resolve (this target does not block)' },
  ];
  for (const { name, expect, what } of expectations) {
    const reply = await ask(server.port, name, 'A', 2000);
    if (reply === null || !expect(reply)) {
      throw new Error(`${server.name}: ${name} should ${what}, got ${reply === null ? 'no answer' : `${reply.rcode} with ${reply.answers} answers`}`);
    }
  }
}
