import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import type { FeedSettings } from '../../src/feed/feed-settings.js';
import { Authenticator, OriginPolicy, sha256Hex } from '../../src/http/auth.js';
import { buildHttpApp, type HttpOptions } from '../../src/http/http-server.js';
import { nameAttribution } from '../support/events.js';

const TOKEN = 'analyst-token-for-feed-tests-0123';

/** How an event message begins: events are built with `id` first, and JSON keeps that order. */
const EVENT_PREFIX = '{"type":"event","event":{"id":';

type Message = { type: string; event?: DetectionEvent; [field: string]: unknown };

function event(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  const app = overrides.app === undefined ? null : overrides.app;
  return {
    id: 0,
    ts: 1_750_000_000_000,
    kind: 'detection',
    instance: 'test',
    client: '10.64.0.7',
    device: null,
    group: null,
    qname: 'example.nl',
    qtype: 'A',
    rcode: 'NOERROR',
    app,
    matched_name: null,
    ...nameAttribution(app),
    hosting: [],
    owner_watchlisted: false,
    hosting_watchlisted: false,
    action: 'allow',
    rule: null,
    exemption: null,
    latency_ms: 1,
    cached: false,
    count: 1,
    ...overrides,
  };
}

const tiktok = { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' };
const hosted = (country: string) => ({ ip: '192.0.2.1', country, asn: 64_500, org: 'Example' });

/** A feed client that records what it receives; event bodies only when asked to. */
class Client {
  readonly messages: Message[] = [];
  readonly eventIds: number[] = [];
  readonly events: DetectionEvent[] = [];
  closed: { code: number; reason: string } | null = null;
  private notify: () => void = () => {};

  constructor(
    readonly ws: WebSocket,
    keepEvents: boolean,
  ) {
    ws.on('message', (data) => {
      const text = String(data);
      // Ids only: parsing 200k whole events would dominate the slow-client tests.
      if (!keepEvents && text.startsWith(EVENT_PREFIX)) this.eventIds.push(parseInt(text.slice(EVENT_PREFIX.length), 10));
      else this.receive(JSON.parse(text) as Message);
      this.notify();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.notify();
    });
  }

  private receive(message: Message): void {
    if (message.type !== 'event') {
      this.messages.push(message);
      return;
    }
    this.eventIds.push(message.event!.id);
    this.events.push(message.event!);
  }

  ofType(type: string): Message[] {
    return this.messages.filter((message) => message.type === type);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Resolves once `done()` holds; fails the test with `what` after a few seconds. */
  until(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.notify = () => {};
        resolve();
      };
      this.notify = check;
      check();
    });
  }

  /** Stops reading from the socket, so the server's buffers fill up. */
  pauseReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  resumeReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.resume();
  }
}

interface Feed {
  readonly hub: EventHub;
  readonly counters: FeedCounters;
  readonly base: string;
  publish(...events: DetectionEvent[]): void;
  publishMany(count: number, overrides?: Partial<DetectionEvent>): void;
  connect(query?: string, options?: { headers?: Record<string, string>; origin?: string; keepEvents?: boolean }): Promise<Client>;
  refused(query: string, options: { headers?: Record<string, string>; origin?: string }): Promise<{ status: number; body: string }>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startFeed(settings: Partial<FeedSettings> = {}, capacity = 65_536, degraded: () => string[] = () => []): Promise<Feed> {
  const config = loadConfig({
    text: `upstream: { servers: ["127.0.0.1"] }\napi:\n  tokens:\n    - { name: soc, role: analyst, sha256: "${sha256Hex(TOKEN)}" }\n`,
  });
  const hub = new EventHub({ capacity, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null });
  const counters = new FeedCounters();
  const options: HttpOptions = {
    log: pino({ level: 'silent' }),
    health: { ready: () => true, degraded },
    hub,
    history: null,
    auth: new Authenticator(config.api, { env: {} }),
    origins: new OriginPolicy(config.api.allowed_origins),
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters, settings },
  };
  const app = await buildHttpApp(options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const sockets: WebSocket[] = [];
  cleanups.push(async () => {
    for (const ws of sockets) ws.terminate();
    await app.close();
  });
  const { port } = app.server.address() as { port: number };
  const base = `127.0.0.1:${port}`;
  const open = (query: string, options: { headers?: Record<string, string>; origin?: string }): WebSocket => {
    const ws = new WebSocket(`ws://${base}/feed${query}`, { headers: { authorization: `Bearer ${TOKEN}` }, ...options });
    ws.once('open', () => sockets.push(ws));
    return ws;
  };
  return {
    hub,
    counters,
    base,
    publish: (...events) => events.forEach((item) => hub.publish(item)),
    publishMany: (count, overrides = {}) => {
      for (let i = 0; i < count; i++) hub.publish(event({ kind: 'query', ...overrides }));
    },
    connect: (query = '', { keepEvents = true, ...options } = {}) =>
      new Promise((resolve, reject) => {
        const ws = open(query, options);
        const client = new Client(ws, keepEvents);
        ws.once('unexpected-response', (_request, response: IncomingMessage) => reject(new Error(`refused with ${response.statusCode}`)));
        ws.once('open', () =>
          client.until(() => client.ofType('hello').length === 1 || client.closed !== null, 'hello').then(() => {
            if (client.closed === null) resolve(client);
            else reject(new Error(`closed with ${client.closed.code} ${client.closed.reason}`));
          }, reject),
        );
      }),
    refused: (query, options) =>
      new Promise((resolve, reject) => {
        const ws = open(query, options);
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.once('unexpected-response', (_request, response: IncomingMessage) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += String(chunk)));
          response.on('end', () => resolve({ status: response.statusCode!, body }));
        });
      }),
  };
}

/**
 * Publishes `count` events in batches, each only once `reader` is at most two batches behind:
 * so little is in flight to it that its buffer never reaches the limit, and it never loses one.
 */
async function publishPaced(feed: Feed, reader: Client, count: number, batch = 1000, overrides: Partial<DetectionEvent> = {}): Promise<void> {
  for (let done = 0; done < count; done += batch) {
    feed.publishMany(batch, overrides);
    const newest = feed.hub.ring.nextId - 1;
    await reader.until(() => newest - (reader.eventIds.at(-1) ?? 0) <= 2 * batch, `reader within two batches of ${newest}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for a server-side effect that no message announces. */
async function eventually(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited >= 5000) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe('GET /feed authentication', () => {
  it('answers 401 before the upgrade when no token is given', async () => {
    const feed = await startFeed();
    const refusal = await feed.refused('', { headers: {} });
    expect(refusal.status).toBe(401);
    expect(JSON.parse(refusal.body)).toMatchObject({ error: 'unauthenticated' });
    expect(feed.hub.subscriberCount).toBe(0);
  });

  it('answers 401 for an unknown token', async () => {
    const feed = await startFeed();
    expect((await feed.refused('', { headers: { authorization: 'Bearer not-a-known-token-at-all' } })).status).toBe(401);
  });

  it('answers 403 to a page from a foreign origin, even with a valid token', async () => {
    const feed = await startFeed();
    const refusal = await feed.refused('', { origin: 'https://evil.example' });
    expect(refusal.status).toBe(403);
    expect(JSON.parse(refusal.body)).toMatchObject({ error: 'forbidden_origin' });
  });

  it('accepts a same-host page with a session cookie', async () => {
    const feed = await startFeed();
    const response = await fetch(`http://${feed.base}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(response.status).toBe(200);
    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    const client = await feed.connect('', { headers: { cookie }, origin: `http://${feed.base}` });
    expect(client.ofType('hello')[0]).toMatchObject({ type: 'hello', last_id: 0, oldest_id: 1, filter: {}, heartbeat_ms: 15_000 });
    expect((await feed.refused('', { headers: { cookie }, origin: 'https://evil.example' })).status).toBe(403);
  });
});

describe('GET /feed events', () => {
  it('sends every published event, folded ones with their count, in order, as published', async () => {
    const feed = await startFeed();
    const client = await feed.connect();
    const published = range(1, 1500).map((i) => event({ qname: `host${i}.example.nl`, app: i % 3 === 0 ? tiktok : null, hosting: [hosted('NL')], count: 1 + (i % 4) }));
    for (let i = 0; i < published.length; i += 500) {
      feed.publish(...published.slice(i, i + 500));
      await client.until(() => client.eventIds.length >= i + 500, `event ${i + 500}`);
    }
    expect(client.eventIds).toEqual(range(1, 1500));
    expect(client.events).toEqual(JSON.parse(JSON.stringify(published)));
    expect(feed.counters.sent).toBe(1500);
  });

  it('filters by the query string', async () => {
    const feed = await startFeed();
    const client = await feed.connect('?app=tiktok,wechat&action=block,monitor&hosting_country=ru');
    feed.publish(
      event({ app: tiktok, action: 'block', hosting: [hosted('NL'), hosted('RU')] }), // 1: matches
      event({ app: tiktok, action: 'allow', hosting: [hosted('RU')] }), // 2: action
      event({ action: 'block', hosting: [hosted('RU')] }), // 3: no app
      event({ app: tiktok, action: 'monitor', hosting: [hosted('NL')] }), // 4: hosting
      event({ app: { ...tiktok, id: 'wechat' }, action: 'monitor', hosting: [hosted('RU')] }), // 5: matches
    );
    await client.until(() => client.eventIds.length >= 2, 'matching events');
    feed.publish(event({ app: tiktok, action: 'block', hosting: [hosted('RU')] }));
    await client.until(() => client.eventIds.length >= 3, 'the last event');
    expect(client.eventIds).toEqual([1, 5, 6]);
    expect(client.ofType('hello')[0]!.filter).toEqual({ app: ['tiktok', 'wechat'], action: ['block', 'monitor'], hosting_country: ['RU'] });
  });

  it('changes the filter on a filter message and keeps it when a later one is invalid', async () => {
    const feed = await startFeed();
    const client = await feed.connect();
    client.send({ type: 'filter', kind: ['bypass'], group: 'ministry-a' });
    await client.until(() => client.ofType('filter').length === 1, 'the filter acknowledgement');
    expect(client.ofType('filter')[0]!.filter).toEqual({ kind: ['bypass'], group: ['ministry-a'] });
    client.send({ type: 'filter', action: 'blok' });
    client.send({ type: 'filter', colour: 'red' });
    client.send('{not json');
    await client.until(() => client.ofType('error').length === 3, 'three errors');
    expect(client.ofType('error').map((error) => error.code)).toEqual(['bad_filter', 'bad_filter', 'bad_message']);
    feed.publish(
      event({ kind: 'bypass', group: 'ministry-a' }), // 1
      event({ kind: 'bypass', group: 'ministry-b' }),
      event({ kind: 'detection', group: 'ministry-a' }),
      event({ kind: 'bypass', group: 'ministry-a' }), // 4
    );
    await client.until(() => client.eventIds.length >= 2, 'bypass events');
    expect(client.eventIds).toEqual([1, 4]);
    expect(client.closed).toBeNull();
  });

  it('refuses an invalid query string with 400 before the upgrade', async () => {
    const feed = await startFeed();
    for (const query of ['?action=blok', '?colour=red', '?app=', '?hosting_country=NLD', '?client=10.0.0.256', '?backlog=1001', '?since=-1', '?since=1&backlog=2']) {
      const refusal = await feed.refused(query, {});
      expect(refusal.status, query).toBe(400);
      expect(JSON.parse(refusal.body).error, query).toMatch(/^bad_(filter|resume)$/);
    }
    expect(feed.hub.subscriberCount).toBe(0);
  });
});

describe('GET /feed resume', () => {
  it('resumes after ?since= with exactly the missed events, then live', async () => {
    const feed = await startFeed();
    feed.publishMany(50);
    const client = await feed.connect('?since=20');
    expect(client.ofType('hello')[0]).toMatchObject({ last_id: 50, oldest_id: 1 });
    await client.until(() => client.eventIds.length >= 30, 'events 21..50');
    feed.publishMany(5);
    await client.until(() => client.eventIds.length >= 35, 'live events');
    expect(client.eventIds).toEqual(range(21, 55));
    expect(client.ofType('gap')).toEqual([]);
  });

  it('resumes on a resume message', async () => {
    const feed = await startFeed();
    feed.publishMany(10);
    const client = await feed.connect();
    client.send({ type: 'resume', since: 7 });
    await client.until(() => client.eventIds.length >= 3, 'events 8..10');
    client.send({ type: 'resume', since: -3 });
    await client.until(() => client.ofType('error').length === 1, 'an error');
    feed.publishMany(1);
    await client.until(() => client.eventIds.length >= 4, 'a live event');
    expect(client.eventIds).toEqual([8, 9, 10, 11]);
    expect(client.ofType('error')[0]).toMatchObject({ code: 'bad_resume' });
  });

  it('reports a gap when the resume point was already overwritten', async () => {
    const feed = await startFeed({}, 1024);
    feed.publishMany(3000);
    const client = await feed.connect('?since=100', { keepEvents: false });
    expect(client.ofType('hello')[0]).toMatchObject({ last_id: 3000, oldest_id: 1977 });
    await client.until(() => client.eventIds.length >= 1024, 'the ring');
    expect(client.ofType('gap')).toEqual([{ type: 'gap', missed: 1876, from: 101, to: 1976 }]);
    expect(client.eventIds).toEqual(range(1977, 3000));
    expect(feed.counters).toMatchObject({ gaps: 1, missed: 1876 });
  });

  it('starts with the last N matching events on ?backlog=N', async () => {
    const feed = await startFeed();
    feed.publish(...range(1, 100).map((i) => event({ app: i % 10 === 0 ? tiktok : null })));
    const client = await feed.connect('?backlog=3&app=tiktok');
    await client.until(() => client.eventIds.length >= 3, 'the backlog');
    feed.publish(event(), event({ app: tiktok }));
    await client.until(() => client.eventIds.length >= 4, 'a live event');
    expect(client.eventIds).toEqual([80, 90, 100, 102]);
  });
});

describe('GET /feed slow and abusive clients', () => {
  it('lets a client that does not read lose its oldest events while another gets every one', { timeout: 20_000 }, async () => {
    const total = 200_000;
    const feed = await startFeed({ stallLimitMs: 120_000 }, 16_384);
    const slow = await feed.connect('', { keepEvents: false });
    const normal = await feed.connect('', { keepEvents: false });
    slow.pauseReading();
    await publishPaced(feed, normal, total);
    await normal.until(() => normal.eventIds.length === total, 'every event at the normal client');
    expect(normal.eventIds.every((id, i) => id === i + 1)).toBe(true);
    expect(normal.ofType('gap')).toEqual([]);

    slow.resumeReading();
    await slow.until(() => slow.eventIds.at(-1) === total, 'the newest event at the slow client', 10_000);
    const gaps = slow.ofType('gap');
    expect(gaps.length).toBeGreaterThan(0);
    // Every jump in ids is exactly one reported gap, in order.
    const jumps = slow.eventIds.flatMap((id, i) => (i > 0 && id !== slow.eventIds[i - 1]! + 1 ? [{ from: slow.eventIds[i - 1]! + 1, to: id - 1 }] : []));
    expect(gaps.map(({ from, to }) => ({ from, to }))).toEqual(jumps);
    expect(gaps.every((gap) => gap.missed === (gap.to as number) - (gap.from as number) + 1)).toBe(true);
    expect(slow.closed).toBeNull();
    expect(feed.counters).toMatchObject({ clients: 2, slowCloses: 0, gaps: gaps.length });
  });

  it('closes a client that stays stuck with 4008 and unsubscribes it', { timeout: 15_000 }, async () => {
    const feed = await startFeed({ stallLimitMs: 300, heartbeatMs: 50 }, 16_384);
    const slow = await feed.connect('', { keepEvents: false });
    const normal = await feed.connect('', { keepEvents: false });
    slow.pauseReading();
    for (let round = 0; feed.counters.slowCloses === 0; round++) {
      expect(round, 'rounds until the slow client is closed').toBeLessThan(500);
      // Large events fill the slow client's socket buffers in a few rounds.
      await publishPaced(feed, normal, 100, 100, { qname: `${'a'.repeat(3000)}.example.nl` });
      await sleep(10);
    }
    expect(feed.hub.subscriberCount).toBe(1);
    expect(feed.counters.clients).toBe(1);
    slow.resumeReading();
    await slow.until(() => slow.closed !== null, 'the close frame', 10_000);
    expect(slow.closed).toEqual({ code: 4008, reason: 'too slow' });
    await normal.until(() => normal.eventIds.length === feed.hub.ring.nextId - 1, 'every event at the normal client', 10_000);
    expect(normal.closed).toBeNull();
  });

  it('closes a client that floods it with messages with 1008', async () => {
    const feed = await startFeed();
    const client = await feed.connect();
    for (let i = 0; i < 30; i++) client.send({ type: 'filter' });
    await client.until(() => client.closed !== null, 'the close');
    expect(client.closed).toEqual({ code: 1008, reason: 'too many messages' });
    expect(client.ofType('filter')).toHaveLength(20);
    expect(feed.hub.subscriberCount).toBe(0);
  });

  it('closes a client that sends a message above 64 KiB with 1009', async () => {
    const feed = await startFeed();
    const client = await feed.connect();
    client.send({ type: 'filter', app: 'a'.repeat(65 * 1024) });
    await client.until(() => client.closed !== null, 'the close');
    expect(client.closed!.code).toBe(1009);
    expect(client.ofType('error')).toEqual([]);
    await eventually(() => feed.hub.subscriberCount === 0 && feed.counters.clients === 0, 'the server to let the client go');
  });

  it('refuses clients beyond the limit with 1013 and admits again once one leaves', async () => {
    const feed = await startFeed({ maxClients: 2 });
    const first = await feed.connect();
    await feed.connect();
    await expect(feed.connect()).rejects.toThrow('closed with 1013 try again later');
    expect(feed.counters).toMatchObject({ clients: 2, refused: 1 });
    first.ws.close();
    await first.until(() => first.closed !== null, 'the first client to close');
    await eventually(() => feed.counters.clients === 1, 'the server to let the first client go');
    await feed.connect();
  });
});

describe('GET /feed with ids numbered by a shared stream', () => {
  it('skips ids the stream never delivered, live and in the backlog', async () => {
    const feed = await startFeed();
    for (const id of [10, 11, 15]) feed.hub.accept(event({ id, qname: `n${id}.example` }));
    const client = await feed.connect('?backlog=10');
    feed.hub.accept(event({ id: 20, qname: 'n20.example' }));
    await client.until(() => client.eventIds.length === 4, 'four events');
    expect(client.eventIds).toEqual([10, 11, 15, 20]);
    expect(client.ofType('gap')).toEqual([]);
  });
});

describe('GET /feed status', () => {
  it('says in hello, and by a status message when it changes, whether the node runs degraded', async () => {
    let reasons: string[] = [];
    const feed = await startFeed({ heartbeatMs: 50 }, 65_536, () => reasons);
    const client = await feed.connect();
    expect(client.ofType('hello')[0]).toMatchObject({ degraded: [] });
    reasons = ['redis unreachable: 3 events waiting, 0 dropped'];
    await client.until(() => client.ofType('status').length === 1, 'a degraded status');
    expect(client.ofType('status')[0]).toEqual({ type: 'status', degraded: reasons });
    expect((await feed.connect()).ofType('hello')[0]).toMatchObject({ degraded: reasons });
    reasons = [];
    await client.until(() => client.ofType('status').length === 2, 'a healthy status');
    expect(client.ofType('status')[1]).toEqual({ type: 'status', degraded: [] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.ofType('status')).toHaveLength(2);
  });
});

describe('GET /feed heartbeat', () => {
  it('sends every client a heartbeat from one shared timer', async () => {
    const feed = await startFeed({ heartbeatMs: 50 });
    const a = await feed.connect();
    const b = await feed.connect();
    feed.publishMany(3);
    const beats = (client: Client) => client.ofType('heartbeat').filter((beat) => beat.last_id === 3);
    await a.until(() => beats(a).length >= 3, 'heartbeats at a');
    await b.until(() => beats(b).length >= 3, 'heartbeats at b');
    expect(beats(a)[0]).toEqual({ type: 'heartbeat', last_id: 3, ts: expect.any(Number) });
    // One timer stamps every client of a tick with the same time.
    const stampsOfB = new Set(b.ofType('heartbeat').map((beat) => beat.ts));
    expect(beats(a).slice(0, 2).every((beat) => stampsOfB.has(beat.ts))).toBe(true);
  });
});
