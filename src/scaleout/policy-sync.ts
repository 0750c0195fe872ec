import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RedisLink } from './redis-link.js';
import type { StreamKeys } from './stream-keys.js';

/** The part of the configuration that every instance shares: what is blocked, for whom. */
export interface SharedPolicy {
  readonly mode: Config['mode'];
  readonly policy: Config['policy'];
  /** Instance that published it, and when (ms since the epoch). */
  readonly from: string;
  readonly at: number;
}

/**
 * Keeps policy and exemptions equal across instances. A change accepted here (a reload of
 * the file or SIGHUP) is stored under one key and announced on a channel; every other
 * instance fetches it, validates it against its own catalogue and swaps it in, or keeps
 * what it runs and says why. An instance starting up adopts the stored policy if there is one.
 */
export class PolicySync {
  constructor(
    private readonly commands: RedisLink,
    subscriber: RedisLink,
    private readonly keys: StreamKeys,
    private readonly instance: string,
    private readonly apply: (shared: SharedPolicy) => void,
    private readonly log: Logger,
  ) {
    subscriber.client.on('message', (_channel: string, from: string) => {
      if (from !== instance) void this.fetchAndApply();
    });
    // Commands fail fast while disconnected, so (re)subscribe on every connect, and fetch
    // then whatever changed while this instance was away.
    subscriber.client.on('ready', () => {
      subscriber.client.subscribe(keys.channel).then(
        () => this.fetchAndApply(),
        () => {},
      );
    });
  }

  /** Publishes this instance's policy after a local change; false when Redis is unreachable. */
  async share(config: Config): Promise<boolean> {
    const shared: SharedPolicy = { mode: config.mode, policy: config.policy, from: this.instance, at: Date.now() };
    try {
      await this.commands.client.set(this.keys.policy, JSON.stringify(shared));
      await this.commands.client.publish(this.keys.channel, this.instance);
      this.log.info({ at: shared.at }, 'policy shared with the other instances');
      return true;
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'policy could not be shared: Redis unreachable');
      return false;
    }
  }

  /** The stored policy, if any instance has shared one. */
  async current(): Promise<SharedPolicy | null> {
    const text = await this.commands.client.get(this.keys.policy);
    return text === null ? null : (JSON.parse(text) as SharedPolicy);
  }

  private lastApplied = 0;

  private async fetchAndApply(): Promise<void> {
    let shared: SharedPolicy | null;
    try {
      shared = await this.current();
    } catch {
      return;
    }
    if (shared === null || shared.from === this.instance || shared.at <= this.lastApplied) return;
    this.lastApplied = shared.at;
    this.apply(shared);
  }
}
