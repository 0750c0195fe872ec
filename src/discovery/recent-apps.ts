/**
 * Devices bounded: far more phones than use apps within one window on one worker. When
 * full, devices whose last app query is older than the window are forgotten (they no longer
 * count for anything), and if every one is recent, the one noted first.
 */
export const MAX_DEVICES = 65_536;

interface LastApp {
  app: string;
  /** performance.now() ms of the device's last query for one of the app's names. */
  at: number;
}

/**
 * The catalogued app each device asked for last, and when: what co-occurrence is judged
 * on. One entry per device, updated in place, so an app asking its names over and over
 * costs a look-up and two writes.
 */
export class RecentApps {
  private readonly byClient = new Map<string, LastApp>();
  /** The device looked up last and its entry: a device's queries come in bursts. */
  private lastClient = '';
  private lastEntry: LastApp | undefined = undefined;

  constructor(
    private readonly windowMs: number,
    private readonly maxDevices = MAX_DEVICES,
  ) {}

  get size(): number {
    return this.byClient.size;
  }

  note(client: string, app: string, at: number): void {
    const last = this.entryOf(client);
    if (last !== undefined) {
      last.app = app;
      last.at = at;
      return;
    }
    if (this.byClient.size >= this.maxDevices) this.forget(at - this.windowMs);
    const entry = { app, at };
    this.byClient.set(client, entry);
    this.lastClient = client;
    this.lastEntry = entry;
  }

  /** The app `client` asked for last, if within the window before `now`; else null. */
  appWithin(client: string, now: number): string | null {
    const last = this.entryOf(client);
    return last !== undefined && last.at >= now - this.windowMs ? last.app : null;
  }

  private entryOf(client: string): LastApp | undefined {
    if (client === this.lastClient) return this.lastEntry;
    const entry = this.byClient.get(client);
    this.lastClient = client;
    this.lastEntry = entry;
    return entry;
  }

  private forget(before: number): void {
    for (const [client, last] of this.byClient) if (last.at < before) this.byClient.delete(client);
    if (this.byClient.size >= this.maxDevices) this.byClient.delete(this.byClient.keys().next().value!);
    this.lastClient = '';
    this.lastEntry = undefined;
  }
}
