import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { nativeAddon } from '../transport/native-addon.js';

/** How often a process looks back at how busy it was. */
export const TRIM_CHECK_MS = 30_000;
/** The share of that time its event loop may have run for the process to count as idle. */
const IDLE_UTILIZATION = 0.1;

/** The addon's `trimHeap` (glibc's malloc_trim), or null where the addon or glibc is missing. */
export function heapTrimmer(): (() => boolean) | null {
  return (nativeAddon()?.['trimHeap'] as (() => boolean) | undefined) ?? null;
}

/**
 * Hands the C heap's free pages back to the kernel once the process has been idle a check
 * interval: glibc otherwise keeps a burst's peak (src/server/native/heap-trim.c), as V8
 * would keep its heap's without its memory reducer, which likewise waits for idle time.
 * Not while busy: the pages would only be faulted in again.
 */
export class IdleHeapTrim {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly timer: NodeJS.Timeout;
  /** Checks that found the process idle and trimmed. */
  trims = 0;

  constructor(
    private readonly trim: () => boolean,
    intervalMs = TRIM_CHECK_MS,
  ) {
    this.timer = setInterval(() => this.check(), intervalMs).unref();
  }

  private check(): void {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.last).utilization;
    this.last = now;
    if (busy >= IDLE_UTILIZATION) return;
    this.trim();
    this.trims++;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Starts trimming this process's C heap when idle, where the addon can. */
export function trimHeapWhenIdle(): IdleHeapTrim | null {
  const trim = heapTrimmer();
  return trim === null ? null : new IdleHeapTrim(trim);
}
