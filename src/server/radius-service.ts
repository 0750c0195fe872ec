import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ClientAcl } from '../access/client-acl.js';
import type { Config } from '../config/schema.js';
import { registerRadiusMetrics } from '../metrics/radius-metrics.js';
import { IDENTITY_ATTRIBUTES } from '../radius/accounting-packet.js';
import { AccountingListener } from '../radius/accounting-listener.js';
import { SessionTable, type SessionChange } from '../radius/session-table.js';
import { sharedSecret } from '../radius/shared-secret.js';
import type { SharedSession } from '../scaleout/scale-out.js';
import type { SessionSync } from '../scaleout/session-sync.js';
import { bindError } from './bind-error.js';
import type { WorkerMessage } from './worker-messages.js';

/** How often sessions past their timeout are looked for, at most. */
const SWEEP_MS = 60_000;

/** With Redis: shares this instance's sessions and hands over the others' (EventPath.followSessions). */
export type FollowSessions = (apply: (sessions: SharedSession[], whole: boolean) => void) => SessionSync | null;

/**
 * VPN sessions in the primary: the RADIUS accounting listener and its session table (when
 * identity.radius.listen is set), the sessions other instances share through Redis (with
 * Redis, and always when identity.radius.follow is set), and the workers' copies of the
 * address → device mapping. A session heard here outranks one shared for the same address.
 * Changes go to every worker once per turn of the event loop (a burst of Starts is one
 * message); a worker that (re)starts gets the whole mapping.
 */
export class RadiusService {
  private readonly table: SessionTable | null = null;
  private listener: AccountingListener | null = null;
  private sync: SessionSync | null = null;
  /** Sessions other instances heard of: address → device and expiry. */
  private readonly shared = new Map<string, { device: string; expires: number }>();
  private readonly changedAddresses = new Set<string>();
  private localChanges: SharedSession[] = [];
  private flushScheduled = false;
  private readonly sweep: NodeJS.Timeout;

  private constructor(
    private readonly settings: Config['identity']['radius'],
    private readonly broadcast: (message: WorkerMessage) => void,
    private readonly now: () => number = Date.now,
  ) {
    const timeoutMs = settings.session_timeout_s * 1000;
    if (settings.listen !== '') {
      this.table = new SessionTable(
        { maxSessions: settings.max_sessions, timeoutMs },
        ([address, device]) => this.localChanged(address, device),
        now,
        // The workers' copies do not change, but the other instances' expiry must move on.
        (address, device) => this.shareLater([address, device, this.now() + timeoutMs]),
      );
    }
    this.sweep = setInterval(() => this.expire(), Math.min(SWEEP_MS, timeoutMs / 4)).unref();
  }

  /**
   * Null when neither a listener nor following is asked for. Throws one line when the
   * secret is missing or the port taken.
   */
  static async start(config: Config, registry: Registry, broadcast: (message: WorkerMessage) => void, follow: FollowSessions, log: Logger): Promise<RadiusService | null> {
    const settings = config.identity.radius;
    if (settings.listen === '' && !settings.follow) return null;
    const secret = settings.listen === '' ? null : sharedSecret(settings.secret_file);
    const service = new RadiusService(settings, broadcast);
    const radiusLog = log.child({ component: 'radius' });
    if (service.table !== null && secret !== null) {
      const table = service.table;
      const listener = await AccountingListener.start(
        { listen: settings.listen, secret, clients: new ClientAcl(settings.clients), identityAttribute: IDENTITY_ATTRIBUTES[settings.identity_attribute] },
        table,
        radiusLog,
      ).catch((error: unknown) => {
        clearInterval(service.sweep);
        return Promise.reject(bindError(`RADIUS accounting on ${settings.listen}`, error));
      });
      service.listener = listener;
      registerRadiusMetrics(registry, { packets: listener.counters, applied: listener.applied, sessions: () => table.size, table: table.counters });
      radiusLog.info({ listen: settings.listen, identity: settings.identity_attribute }, 'RADIUS accounting listening');
    }
    service.sync = follow((sessions, whole) => service.sharedChanged(sessions, whole));
    return service;
  }

  workerReady(worker: Worker): void {
    worker.send({ type: 'sessions', changes: this.mapping(), whole: true } satisfies WorkerMessage);
  }

  /** The device at `address` now: the session heard here, else a live shared one. */
  private deviceAt(address: string): string | null {
    const local = this.table?.get(address);
    if (local !== undefined) return local.device;
    const remote = this.shared.get(address);
    return remote !== undefined && remote.expires > this.now() ? remote.device : null;
  }

  private mapping(): SessionChange[] {
    const addresses = new Set([...(this.table?.entries().map(([address]) => address) ?? []), ...this.shared.keys()]);
    const entries: SessionChange[] = [];
    for (const address of addresses) {
      const device = this.deviceAt(address);
      if (device !== null) entries.push([address, device]);
    }
    return entries;
  }

  private localChanged(address: string, device: string | null): void {
    this.shareLater([address, device, device === null ? 0 : this.now() + this.settings.session_timeout_s * 1000]);
    this.changed(address);
  }

  private shareLater(session: SharedSession): void {
    if (this.sync === null) return;
    this.localChanges.push(session);
    this.schedule();
  }

  private sharedChanged(sessions: readonly SharedSession[], whole: boolean): void {
    if (whole) {
      for (const address of this.shared.keys()) this.changedAddresses.add(address);
      this.shared.clear();
      // (Re)connected: Redis may have restarted empty, or missed what was shared meanwhile.
      const timeoutMs = this.settings.session_timeout_s * 1000;
      for (const session of this.table?.held() ?? []) this.shareLater([session.address, session.device, session.updated + timeoutMs]);
    }
    for (const [address, device, expires] of sessions) {
      if (device === null) this.shared.delete(address);
      else this.shared.set(address, { device, expires });
      this.changedAddresses.add(address);
    }
    this.schedule();
  }

  private changed(address: string): void {
    this.changedAddresses.add(address);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const changes = [...this.changedAddresses].map((address) => [address, this.deviceAt(address)] as const);
    this.changedAddresses.clear();
    if (changes.length > 0) this.broadcast({ type: 'sessions', changes, whole: false });
    if (this.localChanges.length > 0 && this.sync !== null) void this.sync.share(this.localChanges);
    this.localChanges = [];
  }

  private expire(): void {
    this.table?.expire();
    const now = this.now();
    for (const [address, { expires }] of this.shared) {
      if (expires > now) continue;
      this.shared.delete(address);
      this.changed(address);
    }
  }

  close(): Promise<void> {
    clearInterval(this.sweep);
    return this.listener?.close() ?? Promise.resolve();
  }
}
