import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { DetectionEvent } from '../events/detection-event.js';
import type { EventHub, EventSubscriber } from '../events/event-hub.js';
import type { EventRing } from '../events/event-ring.js';
import { ecsDocument } from './ecs.js';
import { openJsonlFile } from './jsonl-file.js';
import { SINK_DEFAULTS, type SiemSink, type SinkCounters, type SinkOptions } from './sink.js';
import type { StreamSink } from './stream-sink.js';
import { openSyslogSink } from './syslog-sink.js';
import { syslogMessage } from './syslog.js';

/** Events exported per event-loop turn; a larger backlog continues next turn so DNS and the feed keep being served. */
const BATCH_MAX = 1000;

/** The configured sinks' counters, for the metrics layer (label `sink`). */
export interface SiemCounters {
  syslog?: SinkCounters;
  jsonl?: SinkCounters;
}

/**
 * The hub subscriber that sends events of the configured kinds to a SIEM: each event is
 * mapped to ECS once and handed to the syslog sender and the JSON-lines file. It reads the
 * ring from its own cursor, so a slow receiver never holds up the hub; events the ring
 * overwrote before they were read count as dropped in every sink. Only events this instance
 * answered are exported: with Redis the hub also holds every other instance's events, and
 * each instance exports its own, so the SIEM gets every event once.
 */
export class SiemExport implements EventSubscriber {
  readonly counters: SiemCounters;
  private readonly ring: EventRing;
  private readonly kinds: ReadonlySet<string>;
  private readonly facility: number;
  private readonly unsubscribe: () => void;
  /** Id of the next event to read. */
  private cursor: number;
  /** The ring had never held an event when last read. */
  private ringUnused = true;
  private continuation: NodeJS.Immediate | null = null;
  private closed = false;
  private readonly continueBacklog = (): void => {
    this.continuation = null;
    this.exportBatch(BATCH_MAX);
  };

  /**
   * Exports the events of `instance` (this instance's name). Null when neither a syslog
   * target nor a file is configured; throws an Error naming a malformed setting.
   */
  static start(settings: Config['siem'], hub: EventHub, log: Logger, instance: string, options: SinkOptions = SINK_DEFAULTS): SiemExport | null {
    if (settings.syslog.target === '' && settings.jsonl.path === '') return null;
    const child = log.child({ component: 'siem' });
    const syslog = settings.syslog.target === '' ? null : openSyslogSink(settings.syslog, child, options);
    let jsonl: StreamSink | null;
    try {
      jsonl = settings.jsonl.path === '' ? null : openJsonlFile(settings.jsonl.path, child, options);
    } catch (error) {
      void syslog?.close();
      throw error;
    }
    return new SiemExport(hub, settings, instance, syslog, jsonl);
  }

  private constructor(
    hub: EventHub,
    settings: Config['siem'],
    private readonly instance: string,
    private readonly syslog: SiemSink | null,
    private readonly jsonl: StreamSink | null,
  ) {
    this.facility = settings.syslog.facility;
    this.kinds = new Set<string>(settings.kinds);
    this.counters = { ...(syslog !== null && { syslog: syslog.counters }), ...(jsonl !== null && { jsonl: jsonl.counters }) };
    this.ring = hub.ring;
    this.cursor = hub.ring.oldestId;
    this.unsubscribe = hub.subscribe(this);
    this.exportBatch(BATCH_MAX);
  }

  wake(): void {
    // A scheduled continuation reads up to the newest event anyway.
    if (this.continuation === null && !this.closed) this.exportBatch(BATCH_MAX);
  }

  /** Starts a new JSON-lines file (after logrotate moved the old one; SIGHUP). */
  reopen(): void {
    this.jsonl?.reopen();
  }

  /** Stops reading the hub, exports what it still holds, and flushes and closes the sinks. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    if (this.continuation !== null) clearImmediate(this.continuation);
    this.continuation = null;
    this.exportBatch(Infinity);
    await Promise.all([this.syslog?.close(), this.jsonl?.close()]);
  }

  private exportBatch(max: number): void {
    const ring = this.ring;
    if (this.cursor < ring.oldestId) {
      // A ring fed from the shared stream starts at the first id it takes. Ids below that
      // were never held: a jump, not a loss, unless the ring has since wrapped.
      const jumped = this.ringUnused && ring.oldestId > ring.nextId - ring.capacity;
      const missed = jumped ? 0 : ring.oldestId - this.cursor;
      for (const counters of Object.values(this.counters)) counters.dropped += missed;
      this.cursor = ring.oldestId;
    }
    const end = Math.min(ring.nextId, this.cursor + max);
    for (; this.cursor < end; this.cursor++) {
      // Ids the shared stream skipped are absent.
      const event = ring.get(this.cursor);
      if (event !== undefined) this.export(event);
    }
    this.ringUnused = ring.oldestId === ring.nextId;
    if (this.cursor < ring.nextId && !this.closed) this.continuation = setImmediate(this.continueBacklog);
  }

  private export(event: DetectionEvent): void {
    if (event.instance !== this.instance || !this.kinds.has(event.kind)) return;
    const json = JSON.stringify(ecsDocument(event));
    this.syslog?.send(syslogMessage(event, json, this.facility));
    this.jsonl?.send(Buffer.from(json, 'utf8'));
  }
}
