/** CPU time and peak memory of process trees, read from /proc (Linux only). */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/**
 * The fields of /proc/PID/stat after the command name, which is in parentheses and may
 * itself hold spaces and parentheses; null when the process is gone.
 */
function statFields(pid: number | 'self'): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

// Indices into statFields (proc(5) field number minus 3).
const PPID = 1;
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;

const secondsOf = (fields: string[], user: number, system: number): number => (Number(fields[user]) + Number(fields[system])) / TICKS_PER_SECOND;

/** `root` and every process descended from it (cluster workers, forked helpers). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const fields = statFields(pid);
    if (fields === null) continue;
    const ppid = Number(fields[PPID]);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** User + system CPU seconds of these processes (all threads), summed. */
export function cpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (fields !== null) total += secondsOf(fields, UTIME, STIME);
  }
  return total;
}

/**
 * CPU seconds of this process's children that have exited and been reaped: the delta
 * across one dnsperf run is dnsperf's own CPU time, which cannot be read from /proc once
 * it has exited.
 */
export function reapedChildrenCpuSeconds(): number {
  const fields = statFields('self');
  return fields === null ? 0 : secondsOf(fields, CUTIME, CSTIME);
}

/** CPU seconds the whole machine has spent busy (all CPUs, everything but idle and iowait), from /proc/stat. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/** Sum of each process's peak resident set (VmHWM), in bytes: an upper bound of the tree's peak. */
export function peakRssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (match) total += Number(match[1]) * 1024;
  }
  return total;
}
