import { readFileSync, readdirSync } from 'node:fs';
import { rawQuery } from './dig.js';
import { encodeQuery, TYPE } from './packets.js';

/** The direct children of a process (a served primary's workers). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A /proc/PID/status field in kB (VmRSS, VmHWM); 0 when the process is gone. */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors of a process. */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The sum over every label set of `name` on a served instance's /metrics. */
export async function scrape(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Asks for `name` (A) `asks` times, each from a socket of its own and with IDs counting up
 * from 1, so the questions reach every worker's socket in turn (the kernel hands them out by
 * query ID); resolves with the NOERROR replies.
 */
export async function askFromFreshPorts(port: number, name: string, asks: number): Promise<number> {
  let answered = 0;
  for (let i = 0; i < asks; i++) {
    const reply = await rawQuery({ host: '127.0.0.1', port }, encodeQuery(name, TYPE.A, { id: i + 1 }));
    if (reply !== null && (reply[3]! & 0x0f) === 0) answered++;
  }
  return answered;
}
