/**
 * The soak's hostile TCP client, for the whole run: a pool of idle connections kept topped
 * up, slow senders trickling a byte at a time, and clients pipelining queries for a big
 * answer without reading. Every loop is bounded; stop() ends it all.
 */
import type net from 'node:net';
import { openIdle, slowloris, unreadPipeline, type IdleConnections, type Target } from '../../test/support/hostile-tcp.js';

const IDLE = 300;
/** Idle connections per source address, within the server's per-client share. */
const IDLE_PER_ADDRESS = 15;
const SLOW_SENDERS = 10;
const SLOW_BYTE_EVERY_MS = 200;
const PIPELINE_EVERY_MS = 10_000;
const PIPELINE_QUERIES = 2000;
/** A pipelining client gives up (closes) after this. */
const PIPELINE_LIFETIME_MS = 30_000;
const TOP_UP_EVERY_MS = 5000;

export interface HostileCounts {
  idleOpened: number;
  idleClosedByServer: number;
  slowSendersClosed: number;
  pipelines: number;
}

export class HostileTcp {
  readonly counts: HostileCounts = { idleOpened: 0, idleClosedByServer: 0, slowSendersClosed: 0, pipelines: 0 };
  private stopped = false;
  private readonly pools: IdleConnections[] = [];
  private readonly pipelines = new Set<net.Socket>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running: Promise<unknown>[] = [];
  /** Closed by the server in pools already forgotten. */
  private closedInForgotten = 0;

  constructor(
    private readonly target: Target,
    /** The TXT name with a big answer that pipelining clients ask for. */
    private readonly bigName: string,
  ) {}

  start(): void {
    this.running.push(this.topUp());
    for (let i = 0; i < SLOW_SENDERS; i++) this.running.push(this.slowSender(i));
    this.timers.push(setInterval(() => void this.pipeline(), PIPELINE_EVERY_MS));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const pool of this.pools) pool.closeAll();
    for (const socket of this.pipelines) socket.destroy();
    await Promise.all(this.running);
  }

  /** Idle connections open now, and the counts so far. */
  snapshot(): HostileCounts & { idleOpen: number } {
    const idleOpen = this.pools.reduce((sum, pool) => sum + pool.open, 0);
    const closed = this.closedInForgotten + this.pools.reduce((sum, pool) => sum + pool.closedByServer, 0);
    return { ...this.counts, idleClosedByServer: closed, idleOpen };
  }

  private async topUp(): Promise<void> {
    for (let round = 0; !this.stopped; round++) {
      const open = this.pools.reduce((sum, pool) => sum + pool.open, 0);
      const missing = IDLE - open;
      for (let at = 0; at < missing && !this.stopped; at += IDLE_PER_ADDRESS) {
        const address = `127.0.1.${((round * 7 + at / IDLE_PER_ADDRESS) % 250) + 1}`;
        const pool = await openIdle(this.target, Math.min(IDLE_PER_ADDRESS, missing - at), address, IDLE_PER_ADDRESS);
        this.counts.idleOpened += pool.sockets.length;
        this.pools.push(pool);
      }
      // Forget pools whose connections are all gone.
      for (let i = this.pools.length - 1; i >= 0; i--) {
        if (this.pools[i]!.open > 0) continue;
        const [pool] = this.pools.splice(i, 1);
        this.closedInForgotten += pool!.closedByServer;
        pool!.closeAll();
      }
      await new Promise((resolve) => setTimeout(resolve, TOP_UP_EVERY_MS));
    }
  }

  private async slowSender(i: number): Promise<void> {
    while (!this.stopped) {
      const closedAfter = await slowloris(this.target, SLOW_BYTE_EVERY_MS, 15_000, `127.0.2.${i + 1}`);
      if (closedAfter !== null) this.counts.slowSendersClosed++;
    }
  }

  private async pipeline(): Promise<void> {
    if (this.stopped) return;
    const socket = await unreadPipeline(this.target, this.bigName, 16, PIPELINE_QUERIES, `127.0.3.${(this.counts.pipelines % 250) + 1}`);
    if (socket === null) return;
    this.counts.pipelines++;
    this.pipelines.add(socket);
    const timer = setTimeout(() => {
      socket.destroy();
      this.pipelines.delete(socket);
    }, PIPELINE_LIFETIME_MS);
    timer.unref();
  }
}
