import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { RedisLink } from '../../src/scaleout/redis-link.js';
import { SessionSync, type SharedSession } from '../../src/scaleout/session-sync.js';
import { streamKeys } from '../../src/scaleout/stream-keys.js';
import { eventually } from '../support/served.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const log = pino({ level: 'silent' });
let redis: RedisServer;
let raw: Redis;
const links: RedisLink[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
}, 20_000);
afterAll(async () => {
  raw?.disconnect();
  for (const link of links) link.close();
  await redis?.stop();
});

const keys = () => streamKeys(loadConfig({ text: `redis: { url: "${redis.url}", stream: "sessions-test" }`, overrides: { upstream: ['127.0.0.1:1'] } }).redis);

function sync(instance: string, received: { sessions: SharedSession[]; whole: boolean }[]): SessionSync {
  const [commands, subscriber] = [new RedisLink(redis.url, 'commands', log), new RedisLink(redis.url, 'sessions', log)];
  links.push(commands, subscriber);
  return new SessionSync(commands, subscriber, keys(), instance, (sessions, whole) => received.push({ sessions, whole }), log);
}

describe('VPN sessions shared through Redis', () => {
  it('takes only well-formed, live entries of other instances from the hash, and well-formed announcements', { timeout: 15_000 }, async () => {
    const future = Date.now() + 60_000;
    await raw.hset('sessions-test:sessions', {
      '10.64.0.1': JSON.stringify({ from: 'other', session: ['10.64.0.1', 'phone-1', future] }),
      '10.64.0.2': JSON.stringify({ from: 'other', session: ['10.64.0.2', 'phone-2', Date.now() - 1] }),
      '10.64.0.3': JSON.stringify({ from: 'self', session: ['10.64.0.3', 'phone-3', future] }),
      '10.64.0.4': JSON.stringify({ from: 'other', session: ['010.64.0.4', 'phone-4', future] }),
      '10.64.0.5': JSON.stringify({ from: 'other', session: ['10.64.0.5', 'bad_id', future] }),
      '10.64.0.6': 'not json',
    });
    const received: { sessions: SharedSession[]; whole: boolean }[] = [];
    sync('self', received);
    expect(await eventually(() => received.length > 0, 5000)).toBe(true);
    expect(received[0]).toEqual({ sessions: [['10.64.0.1', 'phone-1', future]], whole: true });

    for (const message of ['{', JSON.stringify({ from: 'other', sessions: [['10.64.0.7', 'x y', future]] }), JSON.stringify({ from: 'self', sessions: [['10.64.0.8', 'phone-8', future]] })]) {
      await raw.publish(keys().sessionsChannel, message);
    }
    await raw.publish(keys().sessionsChannel, JSON.stringify({ from: 'other', sessions: [['10.64.0.9', 'phone-9', future], ['10.64.0.1', null, 0]] }));
    expect(await eventually(() => received.length > 1, 5000)).toBe(true);
    expect(received.slice(1)).toEqual([{ sessions: [['10.64.0.9', 'phone-9', future], ['10.64.0.1', null, 0]], whole: false }]);
  });

  it('loads the hash once both links are up, whichever comes last', { timeout: 15_000 }, async () => {
    const future = Date.now() + 60_000;
    await raw.hset('sessions-test:sessions', '10.64.2.1', JSON.stringify({ from: 'other', session: ['10.64.2.1', 'phone-21', future] }));
    const commands = new RedisLink(redis.url, 'commands', log);
    const subscriber = new RedisLink(redis.url, 'sessions', log);
    links.push(commands, subscriber);
    // The commands link is down and the subscriber up before the sync exists.
    commands.client.disconnect();
    expect(await subscriber.ready(5000)).toBe(true);
    const received: { sessions: SharedSession[]; whole: boolean }[] = [];
    new SessionSync(commands, subscriber, keys(), 'late', (sessions, whole) => received.push({ sessions, whole }), log);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([]);
    await commands.client.connect();
    expect(await eventually(() => received.length > 0, 5000)).toBe(true);
    expect(received[0]!.whole).toBe(true);
    expect(received[0]!.sessions).toContainEqual(['10.64.2.1', 'phone-21', future]);
  });

  it('stores and announces its own changes for the other instances', { timeout: 15_000 }, async () => {
    const mine: { sessions: SharedSession[]; whole: boolean }[] = [];
    const theirs: { sessions: SharedSession[]; whole: boolean }[] = [];
    const sharing = sync('sharer', mine);
    sync('listener', theirs);
    expect(await eventually(() => mine.length > 0 && theirs.length > 0, 5000)).toBe(true);
    const future = Date.now() + 60_000;
    await sharing.share([['10.64.1.1', 'phone-11', future], ['10.64.0.1', null, 0]]);
    expect(await eventually(() => theirs.length > 1, 5000)).toBe(true);
    expect(theirs.at(-1)).toEqual({ sessions: [['10.64.1.1', 'phone-11', future], ['10.64.0.1', null, 0]], whole: false });
    expect(mine).toHaveLength(1);
    expect(JSON.parse((await raw.hget('sessions-test:sessions', '10.64.1.1'))!)).toEqual({ from: 'sharer', session: ['10.64.1.1', 'phone-11', future] });
    expect(await raw.hget('sessions-test:sessions', '10.64.0.1')).toBeNull();
  });
});
