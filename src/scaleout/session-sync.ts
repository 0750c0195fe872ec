import type { Logger } from 'pino';
import { strictIp } from '../config/address.js';
import { parseDeviceId } from '../pipeline/device-id.js';
import type { RedisLink } from './redis-link.js';
import type { StreamKeys } from './stream-keys.js';

/** One VPN session's mapping as instances share it: the device at an address until `expires` (ms since the epoch); null device: none. */
export type SharedSession = readonly [address: string, device: string | null, expires: number];

/** Redis holds text anyone with access could have written: unparsable text is no value. */
function jsonOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A shared entry as read back from Redis: checked, since a hash can hold anything. */
function parseShared(value: unknown): SharedSession | null {
  if (!Array.isArray(value) || value.length !== 3) return null;
  const [address, device, expires] = value as unknown[];
  if (typeof address !== 'string' || typeof expires !== 'number' || !Number.isFinite(expires)) return null;
  try {
    strictIp(address);
  } catch {
    return null;
  }
  if (device === null) return [address, null, expires];
  const id = typeof device === 'string' ? parseDeviceId(device) : null;
  return id === null ? null : [address, id, expires];
}

/**
 * Keeps the VPN sessions RADIUS accounting reports to any instance known to every
 * instance. An instance stores the sessions it receives in one hash (address → device,
 * expiry and the instance) and announces each batch of changes on a channel; the others
 * apply them. An instance that connects (or reconnects) reads the other instances' entries
 * from the hash, so it learns what it missed, and writes its own again (`whole`), so a
 * Redis that restarted empty learns them too. Entries past their expiry are ignored.
 */
export class SessionSync {
  constructor(
    private readonly commands: RedisLink,
    subscriber: RedisLink,
    private readonly keys: StreamKeys,
    private readonly instance: string,
    private readonly apply: (sessions: SharedSession[], whole: boolean) => void,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    subscriber.client.on('message', (channel: string, text: string) => {
      if (channel !== keys.sessionsChannel) return;
      const message = this.parse(text);
      if (message !== null && message.from !== instance) apply(message.sessions, false);
    });
    const subscribe = (): void => {
      subscriber.client.subscribe(keys.sessionsChannel).then(
        () => {
          this.subscribed = true;
          void this.load();
        },
        (error: Error) => log.warn({ err: error.message }, 'VPN session channel not subscribed; retried on reconnect'),
      );
    };
    subscriber.client.on('ready', subscribe);
    subscriber.client.on('close', () => {
      this.subscribed = false;
    });
    if (subscriber.up) subscribe();
    // The hash is read over the commands link, which may come up after the subscriber (it
    // queues nothing while down): whichever is ready last starts the load.
    commands.client.on('ready', () => {
      if (this.subscribed) void this.load();
    });
  }

  private subscribed = false;

  /** Stores and announces this instance's changes; a failure (Redis away) is logged, the next load repairs it. */
  async share(sessions: readonly SharedSession[]): Promise<void> {
    const multi = this.commands.client.multi();
    for (const [address, device, expires] of sessions) {
      if (device === null) multi.hdel(this.keys.sessions, address);
      else multi.hset(this.keys.sessions, address, JSON.stringify({ from: this.instance, session: [address, device, expires] }));
    }
    multi.publish(this.keys.sessionsChannel, JSON.stringify({ from: this.instance, sessions }));
    try {
      await multi.exec();
    } catch (error) {
      this.log.warn({ err: (error as Error).message, sessions: sessions.length }, 'VPN sessions not shared: Redis unreachable');
    }
  }

  private async load(): Promise<void> {
    if (!this.commands.up) return;
    let stored: Record<string, string>;
    try {
      stored = await this.commands.client.hgetall(this.keys.sessions);
    } catch {
      return;
    }
    const now = this.now();
    const live: SharedSession[] = [];
    for (const text of Object.values(stored)) {
      const entry = this.parseStored(text);
      // Its own sessions this instance has in its table already (a stale copy would outlive a Stop).
      if (entry !== null && entry.from !== this.instance && entry.session[1] !== null && entry.session[2] > now) live.push(entry.session);
    }
    this.apply(live, true);
  }

  private parse(text: string): { from: string; sessions: SharedSession[] } | null {
    const { from, sessions } = (jsonOrNull(text) ?? {}) as { from?: unknown; sessions?: unknown };
    if (typeof from !== 'string' || !Array.isArray(sessions)) return null;
    const parsed = sessions.map(parseShared);
    return parsed.every((session) => session !== null) ? { from, sessions: parsed as SharedSession[] } : null;
  }

  private parseStored(text: string): { from: string; session: SharedSession } | null {
    const { from, session } = (jsonOrNull(text) ?? {}) as { from?: unknown; session?: unknown };
    const parsed = parseShared(session);
    return typeof from === 'string' && parsed !== null ? { from, session: parsed } : null;
  }
}
