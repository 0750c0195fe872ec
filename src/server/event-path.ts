import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { EventBatchMessage } from '../events/event-batcher.js';
import { EventHub } from '../events/event-hub.js';
import { IdFile } from '../events/id-file.js';
import type { IdStore } from '../events/id-store.js';
import { Pseudonymiser } from '../events/pseudonymiser.js';
import { FeedCounters } from '../feed/feed-counters.js';
import { History } from '../history/history.js';
import type { ScaleOut, SharedPolicy, SharedSession } from '../scaleout/scale-out.js';
import type { SessionSync } from '../scaleout/session-sync.js';
import { SiemExport } from '../siem/siem-export.js';
import { instanceName } from './instance.js';

/** Newest stream events loaded into the hub at start, so feed clients can resume here. */
const STREAM_PREFILL = 10_000;

/**
 * The way of a detection event, written down once.
 *
 *   DNS worker  resolver ─▶ EventRecorder ─▶ RepeatFolder ─▶ EventBatcher ══ IPC ══▶
 *   primary     handOver() ─▶ EventHub: numbers each event, replaces the client address by
 *               its pseudonym, derives residual-activity events, keeps them in its ring
 *
 * With Redis the hub does not number: it forwards to the shared stream, and the stream's
 * reader brings every instance's events, numbered, back into the hub (scaleout/).
 *
 * Readers of the hub's ring, each on a cursor of its own, so none can hold up another, the
 * hub or DNS; attached below in this order:
 *   history   the SQLite writer (alone), or the stream's consumer group (with Redis)
 *   siem      syslog and JSON-lines exporters
 *   feed      one cursor per WebSocket client, attached by the HTTP server
 *             (http/feed-routes.ts), counted in `feed`
 *   metrics   counters read at scrape time (metrics/node-metrics.ts)
 */
export class EventPath {
  readonly feed = new FeedCounters();

  private constructor(
    readonly hub: EventHub,
    readonly history: History | null,
    readonly siem: SiemExport | null,
    private readonly scaleOut: ScaleOut | null,
    /** Where the hub reserves its ids; null with Redis (the shared counter numbers) or with nowhere to keep them. */
    private readonly ids: IdStore | null,
    /** Null unless privacy.pseudonymise: then every client address the node shows goes through it. */
    readonly pseudonymiser: Pseudonymiser | null,
  ) {}

  /** `applySharedPolicy`: with Redis, another instance shared a policy to validate and swap in. */
  static async start(config: Config, log: Logger, applySharedPolicy: (shared: SharedPolicy) => void): Promise<EventPath> {
    const history = config.history.path === '' ? null : History.open(config.history, log);
    let scaleOut: ScaleOut | null = null;
    try {
      // Without history, ids survive a restart only in events.id_file (or nowhere: see README).
      const idStore = history?.ids ?? (config.events.id_file === '' ? null : new IdFile(config.events.id_file, log));
      const highestUsed = (): number => Math.max(history?.maxId() ?? 0, idStore?.reserved() ?? 0);
      const firstId = highestUsed() + 1;
      let hub: EventHub | null = null;
      // Read afresh at each reconnect: a Redis that restarted empty must count on from here.
      const highestKnown = (): number => Math.max(highestUsed(), (hub?.ring.nextId ?? 1) - 1);
      scaleOut = config.redis.url === '' ? null : await (await import('../scaleout/scale-out.js')).ScaleOut.connect(config, instanceName(config), log, highestKnown);
      const ids = scaleOut === null ? idStore : null;
      const pseudonymiser = pseudonymiserFor(config, history);
      hub = new EventHub({
        capacity: config.events.buffer,
        firstId,
        residualWindowMs: config.events.residual_window_s * 1000,
        pseudonymiser,
        forward: scaleOut?.publisher ?? null,
        ids,
      });
      if (scaleOut === null) history?.attach(hub);
      else scaleOut.follow(hub, Math.min(config.events.buffer, STREAM_PREFILL), history, applySharedPolicy);
      const siem = SiemExport.start(config.siem, hub, log, instanceName(config));
      return new EventPath(hub, history, siem, scaleOut, ids, pseudonymiser);
    } catch (error) {
      await scaleOut?.close();
      await history?.close();
      throw error;
    }
  }

  /** Where a worker's batch enters the primary (see EventBatcher for the other end). */
  handOver(batch: EventBatchMessage): void {
    for (const event of batch.events) this.hub.publish(event);
    this.hub.counters.droppedInWorkers += batch.dropped;
  }

  /** With Redis: shares VPN sessions between instances (see scaleout/session-sync.ts); null without Redis. */
  followSessions(apply: (sessions: SharedSession[], whole: boolean) => void): SessionSync | null {
    return this.scaleOut?.followSessions(apply) ?? null;
  }

  /** Reasons the SOC side is impaired right now (history not written or behind, Redis away); empty when healthy. */
  degraded(): string[] {
    const reasons = [this.history?.degraded() ?? null, this.ids?.degraded() ?? null].filter((reason): reason is string => reason !== null);
    return [...reasons, ...(this.scaleOut?.degraded() ?? [])];
  }

  /** Each part in use (history, redis) and whether it is impaired now, for the metrics. */
  parts(): Array<readonly [string, boolean]> {
    const parts: Array<readonly [string, boolean]> = [];
    if (this.history !== null) parts.push(['history', this.history.degraded() !== null]);
    if (this.scaleOut !== null) parts.push(['redis', this.scaleOut.degraded() !== null]);
    return parts;
  }

  /** With Redis: shares a policy this instance accepted (file change, SIGHUP) with the others. */
  sharePolicy(config: Config): void {
    void this.scaleOut?.sharePolicy(config);
  }

  /** Starts a new SIEM JSON-lines file after logrotate moved the old one (SIGHUP). */
  reopenLogs(): void {
    this.siem?.reopen();
  }

  /**
   * Hands buffered events to Redis, then writes every pending event to the history and the
   * SIEM. Called once the workers are gone, so nothing is numbered any more: the reservation
   * shrinks to the last id handed out and a graceful restart continues without a jump.
   */
  async close(): Promise<void> {
    this.ids?.release(this.hub.ring.nextId - 1);
    await this.scaleOut?.close();
    await Promise.all([this.history?.close(), this.siem?.close()]);
  }
}

function pseudonymiserFor(config: Config, history: History | null): Pseudonymiser | null {
  if (!config.privacy.pseudonymise) return null;
  const key = process.env[config.privacy.key_env];
  if (key === undefined || key === '') throw new Error(`privacy.pseudonymise is on but ${config.privacy.key_env} is not set`);
  return new Pseudonymiser(key, (pseudonym, address) => history?.rememberPseudonym(pseudonym, address));
}
