/**
 * Servers and readings for the hardening reproductions: Knot with the zones the attacks
 * need, `wachtpost serve` from dist/ with a given configuration, and /proc and /metrics
 * readings of its processes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findBinary, startKnot, startWachtpost, type Server } from '../throughput/peers.js';
import { processTree } from '../throughput/procstat.js';
import { writeZones } from '../throughput/zones.js';

export const ZONE = 'hardening.wachtpost';
/** A TXT RRset of about 50 kB (200 strings of 250 bytes): the big cached answer of the unread-TCP attack. */
export const HUGE = `huge.${ZONE}`;
/** `LABEL.big.hardening.wachtpost`: about 4 kB of TXT for any label (a wildcard). */
export const BIG_SUFFIX = `big.${ZONE}`;
/** `s0` … `s39`: A records with a TTL of 1 s, for serve-stale. */
export const SHORT_TTL_NAMES = 40;

function hardeningZone(): string {
  const lines = [`$ORIGIN ${ZONE}.`, '$TTL 3600', '@ SOA ns hostmaster 1 3600 600 86400 60', '@ NS ns', 'ns A 127.0.0.1', 'www A 192.0.2.1'];
  for (let i = 0; i < 200; i++) lines.push(`huge TXT "${String(i).padStart(3, '0')}${'h'.repeat(247)}"`);
  for (let i = 0; i < 16; i++) lines.push(`*.big TXT "${String(i).padStart(3, '0')}${'b'.repeat(247)}"`);
  for (let i = 0; i < SHORT_TTL_NAMES; i++) lines.push(`s${i} 1 A 192.0.2.${10 + i}`);
  return `${lines.join('\n')}\n`;
}

/** Knot serving the throughput zones (the harness's readiness probe asks one of them) and the hardening zone. */
export async function startUpstream(dir: string): Promise<Server> {
  const binary = findBinary('knotd');
  if (binary === null) throw new Error('knotd is not installed (apt-get install -y knot)');
  const zones = await writeZones(dir);
  const file = join(dir, `${ZONE}.zone`);
  await writeFile(file, hardeningZone());
  zones.set(ZONE, file);
  return startKnot(binary, dir, zones);
}

/** `wachtpost serve` (dist/) with `workers` workers and the given top-level settings. */
export function startServer(name: string, dir: string, upstreamPort: number, workers: number, settings: Record<string, unknown>): Promise<Server> {
  const dns = { drain_timeout_ms: 500, ...((settings.dns as object | undefined) ?? {}) };
  return startWachtpost(name, join(dir, name), upstreamPort, { workers, tagging: true, extra: { ...settings, dns, log: { level: 'warn' } } });
}

/** The worker processes of a served Wachtpost (every process below the primary). */
export function workerPids(server: Server): number[] {
  return processTree(server.pid).slice(1);
}

/** A /proc/PID/status field in kB (VmRSS, VmHWM), or 0 when the process is gone. */
export function statusKb(pid: number, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export const mib = (kb: number): number => Math.round((kb / 1024) * 10) / 10;

/** Open file descriptors of a process. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The sum of every sample of `name` (all label sets) on the server's /metrics. */
export async function metric(server: Server, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
