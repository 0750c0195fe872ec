import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/http/auth.js';
import { loadCatalogueInfo } from '../../src/tagging/catalogue-info.js';
import { SHIPPED } from '../../src/tagging/shipped-data.js';
import { dig } from '../support/dig.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { udpLoad } from '../support/udp-load.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { spawnWachtpost, type ServedProcess } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const ANALYST = 'analyst-token-0123456789abcdef';
const ADMIN = 'admin-token-from-the-environment-0123';
const PSEUDONYM_KEY = 'a-pseudonym-key-of-at-least-32-characters!';

let knot: KnotServer;
let dir: string;
const served: ServedProcess[] = [];

beforeAll(async () => {
  knot = await startKnot();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-soc-'));
}, 30_000);
afterAll(async () => {
  for (const process of served) if (process.child.exitCode === null) process.child.kill('SIGKILL');
  await knot?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** `wachtpost serve` with a configuration holding an analyst token, history and pseudonyms. */
async function serve(name: string, workers: number, extra = ''): Promise<ServedProcess> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `instance: ${name}
mode: monitor
history:
  path: ${join(dir, `${name}.sqlite`)}
api:
  tokens:
    - { name: soc-analyst, role: analyst, sha256: ${sha256Hex(ANALYST)} }
${extra}`,
  );
  const process = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${knot.port}`, '--workers', String(workers)], {
    WACHTPOST_ADMIN_TOKEN: ADMIN,
    WACHTPOST_PSEUDONYM_KEY: PSEUDONYM_KEY,
  });
  served.push(process);
  return process;
}

interface FeedMessage {
  type: string;
  event?: { id: number; qname: string; client: string; app: { id: string } | null; action: string; instance: string };
  missed?: number;
}

/** A feed connection that collects every message. */
async function feed(
  httpPort: number,
  query = '',
): Promise<{ messages: FeedMessage[]; socket: WebSocket; next: (test: (m: FeedMessage) => boolean, timeoutMs?: number) => Promise<FeedMessage> }> {
  const socket = new WebSocket(`ws://127.0.0.1:${httpPort}/feed${query}`, { headers: { authorization: `Bearer ${ANALYST}` } });
  const messages: FeedMessage[] = [];
  const waiters: { test: (m: FeedMessage) => boolean; resolve: (m: FeedMessage) => void }[] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as FeedMessage;
    messages.push(message);
    for (const waiter of waiters.splice(0)) {
      if (waiter.test(message)) waiter.resolve(message);
      else waiters.push(waiter);
    }
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    messages,
    socket,
    next: (test, timeoutMs = 5000) => {
      const found = messages.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ test, resolve });
        setTimeout(() => reject(new Error(`no matching feed message within ${timeoutMs / 1000} s`)), timeoutMs);
      });
    },
  };
}

describe('the SOC side of a running node', () => {
  it('streams the event of a dig query to a feed client within a second, with its detection tags', async () => {
    const node = await serve('feed-e2e', 2);
    const client = await feed(node.httpPort);
    await client.next((m) => m.type === 'hello');
    const started = Date.now();
    expect((await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, 'A')).status).toBe('NOERROR');
    const message = await client.next((m) => m.type === 'event' && m.event?.qname === TIKTOK);
    const elapsed = Date.now() - started;
    expect(message.event).toMatchObject({ app: { id: 'tiktok' }, action: 'monitor', instance: 'feed-e2e', client: '127.0.0.1' });
    expect(elapsed).toBeLessThan(1000);
    client.socket.close();
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
  }, 30_000);

  it('keeps events across a graceful restart and numbers new ones after them', async () => {
    let node = await serve('restart', 2);
    await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, 'A');
    await dig({ host: '127.0.0.1', port: node.port }, 'ru-hosted.test.wachtpost', 'A');
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);

    node = await serve('restart', 1);
    const before = (await (await fetch(`http://127.0.0.1:${node.httpPort}/api/events`, { headers: { authorization: `Bearer ${ANALYST}` } })).json()) as {
      events: { qname: string }[];
    };
    // Two workers ship their events independently, so ids follow arrival at the primary, not query order.
    expect(before.events.map((event) => event.qname).sort()).toEqual([TIKTOK, 'ru-hosted.test.wachtpost'].sort());
    await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, 'AAAA');
    const client = await feed(node.httpPort, '?since=0');
    const fresh = await client.next((m) => m.type === 'event' && m.event!.id > 2);
    expect(fresh.event).toMatchObject({ id: 3, qname: TIKTOK });
    client.socket.close();
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
  }, 40_000);

  it('publishes stable pseudonyms and lets only an admin re-identify one, with an audit record', async () => {
    const node = await serve('privacy', 1, 'privacy:\n  pseudonymise: true\n');
    const client = await feed(node.httpPort);
    await client.next((m) => m.type === 'hello');
    for (const type of ['A', 'AAAA'] as const) await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, type);
    const first = await client.next((m) => m.type === 'event');
    await client.next((m) => m.type === 'event' && m.event!.id !== first.event!.id);
    const clients = client.messages.filter((m) => m.type === 'event').map((m) => m.event!.client);
    expect(clients[0]).toMatch(/^p:[0-9a-f]{24}$/);
    expect(clients[1]).toBe(clients[0]);
    expect(node.output()).not.toContain(ADMIN);

    const resolve = (token: string) =>
      fetch(`http://127.0.0.1:${node.httpPort}/api/pseudonyms/resolve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pseudonym: clients[0], reason: 'incident 2026-117' }),
      });
    expect((await resolve(ANALYST)).status).toBe(403);
    const answer = await resolve(ADMIN);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ pseudonym: clients[0], address: '127.0.0.1' });
    const audit = await (await fetch(`http://127.0.0.1:${node.httpPort}/api/audit`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
    expect(JSON.stringify(audit)).toContain('incident 2026-117');
    client.socket.close();
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
  }, 30_000);

  it('serves Prometheus metrics summed over every worker', async () => {
    const node = await serve('metrics', 2);
    for (let i = 0; i < 6; i++) await dig({ host: '127.0.0.1', port: node.port }, `a.test.wachtpost`, i % 2 === 0 ? 'A' : 'AAAA');
    const response = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const samples = parsePrometheus(text);
    expect(samples.get('wachtpost_dns_queries_total{qtype="A"}')).toBe(3);
    expect(samples.get('wachtpost_dns_queries_total{qtype="AAAA"}')).toBe(3);
    expect(samples.get('wachtpost_dns_replies_total{rcode="NOERROR"}')).toBe(6);
    expect(samples.get('wachtpost_cache_hits_total')! + samples.get('wachtpost_cache_misses_total')!).toBe(6);
    expect([...samples.keys()].some((key) => key.startsWith('wachtpost_upstream_latency_seconds_bucket{le="+Inf",server='))).toBe(true);
    expect(samples.get('wachtpost_feed_clients')).toBe(0);
    // One release, reported once however many workers use it.
    expect(samples.get(`wachtpost_catalogue_info{version="${loadCatalogueInfo(SHIPPED.info).version}"}`)).toBe(1);
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
  }, 30_000);
});

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is a comment (HELP or
 * TYPE with a known type) or a sample `name{labels} value`; anything else fails the test.
 */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      expect(line).toMatch(/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/);
      continue;
    }
    const match = sample.exec(line);
    if (match === null) throw new Error(`not Prometheus text: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

describe('a slow feed client', () => {
  it('loses its oldest events with gap notices while DNS and a normal client keep going', async () => {
    // A small ring, so the paused client is lapped quickly; still several times a worker's
    // largest batch (1,000 events), so the reading client is never lapped by one batch.
    const node = await serve('slow', 1, 'events:\n  buffer: 8192\n  fold_window_ms: 0\n');
    const slow = await feed(node.httpPort);
    const normal = await feed(node.httpPort);
    await Promise.all([slow.next((m) => m.type === 'hello'), normal.next((m) => m.type === 'hello')]);
    // Stop reading: the kernel's buffers fill, then the server's, then its cursor falls behind.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const query = encodeQuery(TIKTOK, TYPE.A, { edns: { udp: 1232 } });
    const load = await udpLoad({ host: '127.0.0.1', port: node.port }, query, 30_000, 64, 60_000);
    expect(load.answered).toBe(load.sent);
    const during = await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, 'A');
    expect(during.status).toBe('NOERROR');
    // The normal client saw every event, in order, with no gap. DNS answers faster than the
    // primary takes events in, so some may still be on their way (more time than one message
    // needs), and those a worker had to drop (counted) never get an id.
    const metrics = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
    const dropped = Number(/^wachtpost_events_dropped_in_workers_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    await normal.next((m) => m.type === 'event' && m.event!.id >= 30_001 - dropped, 30_000);
    const ids = normal.messages.filter((m) => m.type === 'event').map((m) => m.event!.id);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => ids[0]! + i));
    expect(normal.messages.some((m) => m.type === 'gap')).toBe(false);
    // Reading again, the slow client learns what it missed (or was closed for being too slow).
    const closed = new Promise<number>((resolve) => slow.socket.once('close', (code) => resolve(code)));
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    const outcome = await Promise.race([slow.next((m) => m.type === 'gap').then((m) => m.missed!), closed.then((code) => -code)]);
    expect(outcome === -4008 || outcome > 0).toBe(true);
    slow.socket.close();
    normal.socket.close();
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
  }, 90_000);
});
