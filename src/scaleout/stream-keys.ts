import type { Config } from '../config/schema.js';

/** The Redis keys one deployment uses, all derived from the configured stream name. */
export interface StreamKeys {
  readonly stream: string;
  /** Counter that hands out consecutive event ids across instances. */
  readonly lastId: string;
  /** The shared policy document. */
  readonly policy: string;
  readonly channel: string;
  /** VPN sessions from RADIUS accounting: a hash of address → device, and their change announcements. */
  readonly sessions: string;
  readonly sessionsChannel: string;
  readonly maxLen: number;
}

export function streamKeys(settings: Config['redis']): StreamKeys {
  return {
    stream: settings.stream,
    lastId: `${settings.stream}:last-id`,
    policy: `${settings.stream}:policy`,
    channel: settings.channel,
    sessions: `${settings.stream}:sessions`,
    sessionsChannel: `${settings.channel}:sessions`,
    maxLen: settings.max_len,
  };
}

/** Consumer group of the instances that keep history: each event is written by one of them. */
export const HISTORY_GROUP = 'history';
