import type { Logger } from 'pino';
import type { Answer } from '../wire/answer.js';
import type { ExchangeObserver, ExchangeProtocol, FailureCause } from './exchange-observer.js';
import type { UpstreamServer } from './upstream-server.js';

/** Failed attempts in a row after which a server counts as failing (as for its backoff). */
const FAILING_AFTER = 2;
/** A server's state changes are logged at most this often; the state at the window's end is logged then. */
const LOG_EVERY_MS = 60_000;

class ServerHealth {
  failuresInRow = 0;
  failing = false;
  cause: FailureCause = 'other';
  detail = '';
  lastLogged = -Infinity;
  suppressed = 0;
  timer: NodeJS.Timeout | null = null;

  constructor(readonly server: UpstreamServer) {}
}

/**
 * Whether each upstream answers, and why not: a server is failing after two failed
 * attempts in a row and answering again after one answer. Each change is logged once
 * with its real cause (connection refused, timeout …), at most once a minute per server,
 * so a flapping server cannot flood the log: changes within the minute are counted and
 * the state at its end is logged with that count. When every server is failing the resolver
 * answers only from the cache, which `everyFailing` reports for /health.
 */
export class UpstreamHealth implements ExchangeObserver {
  private servers: ServerHealth[] = [];
  private reason: string | null = null;

  constructor(
    private readonly log: Logger,
    /** Told when `everyFailing` changes (the worker tells the primary). */
    private readonly onChange: (everyFailing: string | null) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The servers to watch (the upstream stage's, known once it is built). */
  track(servers: readonly UpstreamServer[]): void {
    this.servers = servers.map((server) => new ServerHealth(server));
  }

  /** Why no upstream can be reached, or null while at least one answers. */
  get everyFailing(): string | null {
    return this.reason;
  }

  /** Each server's label and whether it is failing now. */
  get states(): ReadonlyArray<{ readonly label: string; readonly failing: boolean }> {
    return this.servers.map(({ server, failing }) => ({ label: server.label, failing }));
  }

  asked(): void {}

  answered(server: UpstreamServer, _protocol: ExchangeProtocol, _answer: Answer, _seconds: number): void {
    const health = this.of(server);
    if (health === undefined) return;
    health.failuresInRow = 0;
    if (health.failing) {
      health.failing = false;
      this.changed(health);
    }
  }

  failed(server: UpstreamServer, cause: FailureCause, detail: string): void {
    const health = this.of(server);
    if (health === undefined) return;
    health.failuresInRow++;
    health.cause = cause;
    health.detail = detail;
    if (!health.failing && health.failuresInRow >= FAILING_AFTER) {
      health.failing = true;
      this.changed(health);
    } else if (health.failing) {
      this.update();
    }
  }

  /** Stops the pending end-of-window log lines. */
  close(): void {
    for (const health of this.servers) if (health.timer !== null) clearTimeout(health.timer);
  }

  private of(server: UpstreamServer): ServerHealth | undefined {
    return this.servers.find((health) => health.server === server);
  }

  private changed(health: ServerHealth): void {
    const now = this.now();
    if (now - health.lastLogged >= LOG_EVERY_MS) this.logState(health, now);
    else {
      health.suppressed++;
      health.timer ??= setTimeout(() => {
        health.timer = null;
        this.logState(health, this.now());
      }, health.lastLogged + LOG_EVERY_MS - now).unref();
    }
    this.update();
  }

  private logState(health: ServerHealth, now: number): void {
    const fields = { upstream: health.server.label, ...(health.suppressed > 0 ? { changesNotLogged: health.suppressed } : {}) };
    if (health.failing) this.log.warn({ ...fields, cause: health.cause }, `upstream ${health.server.label} failing: ${health.detail}`);
    else this.log.info(fields, `upstream ${health.server.label} answering again`);
    health.lastLogged = now;
    health.suppressed = 0;
  }

  private update(): void {
    const reason = this.servers.every((health) => health.failing)
      ? `every upstream is failing: ${this.servers.map(({ server, detail }) => `${server.label}: ${detail}`).join('; ')}`
      : null;
    if (reason === this.reason) return;
    const was = this.reason;
    this.reason = reason;
    if (reason !== null && was === null) this.log.error(reason);
    else if (reason === null) this.log.info('an upstream answers again');
    this.onChange(reason);
  }
}
