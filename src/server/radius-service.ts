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
import { bindError } from './bind-error.js';
import type { WorkerMessage } from './worker-messages.js';

/** How often sessions past their timeout are looked for, at most. */
const SWEEP_MS = 60_000;

/**
 * RADIUS accounting in the primary: the listener, the session table, and the workers'
 * copies of its address → device mapping. Changes go to every worker once per turn of the
 * event loop (a burst of Starts is one message); a worker that (re)starts gets the whole table.
 */
export class RadiusService {
  private pending: SessionChange[] = [];
  private readonly sweep: NodeJS.Timeout;

  private constructor(
    readonly table: SessionTable,
    readonly listener: AccountingListener,
  ) {
    this.sweep = setInterval(() => table.expire(), Math.min(SWEEP_MS, table.timeoutMs / 4)).unref();
  }

  /** Null when identity.radius.listen is empty. Throws one line when the secret is missing or the port taken. */
  static async start(config: Config, registry: Registry, broadcast: (message: WorkerMessage) => void, log: Logger): Promise<RadiusService | null> {
    const settings = config.identity.radius;
    if (settings.listen === '') return null;
    const secret = sharedSecret(settings.secret_file);
    let service: RadiusService | null = null;
    const table = new SessionTable({ maxSessions: settings.max_sessions, timeoutMs: settings.session_timeout_s * 1000 }, (change) => service?.queue(change, broadcast));
    const listenerLog = log.child({ component: 'radius' });
    const listener = await AccountingListener.start(
      { listen: settings.listen, secret, clients: new ClientAcl(settings.clients), identityAttribute: IDENTITY_ATTRIBUTES[settings.identity_attribute] },
      table,
      listenerLog,
    ).catch((error: unknown) => Promise.reject(bindError(`RADIUS accounting on ${settings.listen}`, error)));
    service = new RadiusService(table, listener);
    registerRadiusMetrics(registry, { packets: listener.counters, applied: listener.applied, sessions: () => table.size, table: table.counters });
    listenerLog.info({ listen: settings.listen, identity: settings.identity_attribute }, 'RADIUS accounting listening');
    return service;
  }

  workerReady(worker: Worker): void {
    worker.send({ type: 'sessions', changes: this.table.entries(), whole: true } satisfies WorkerMessage);
  }

  private queue(change: SessionChange, broadcast: (message: WorkerMessage) => void): void {
    if (this.pending.length === 0) {
      setImmediate(() => {
        const changes = this.pending;
        this.pending = [];
        broadcast({ type: 'sessions', changes, whole: false });
      });
    }
    this.pending.push(change);
  }

  close(): Promise<void> {
    clearInterval(this.sweep);
    return this.listener.close();
  }
}
