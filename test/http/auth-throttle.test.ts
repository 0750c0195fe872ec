import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { EventHub } from '../../src/events/event-hub.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import { AuthThrottle, FAILURE_BURST, FAILURE_REFILL_MS } from '../../src/http/auth-throttle.js';
import { Authenticator, OriginPolicy, sha256Hex } from '../../src/http/auth.js';
import { buildHttpApp } from '../../src/http/http-server.js';

const TOKEN = 'throttle-analyst-token-0123456789';

interface Server {
  app: FastifyInstance;
  throttle: AuthThrottle;
  base: string;
  clock: { now: number };
  logLines: () => string[];
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(trustedProxies: string[] = []): Promise<Server> {
  const config = loadConfig({
    text: `api:\n  tokens: [{ name: alice, role: analyst, sha256: ${sha256Hex(TOKEN)} }]\n`,
    overrides: { upstream: ['127.0.0.1:5300'] },
  });
  let logged = '';
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    }),
  );
  const clock = { now: Date.UTC(2026, 0, 5, 9) };
  const throttle = new AuthThrottle(log, () => clock.now);
  const app = await buildHttpApp({
    log,
    health: { ready: () => true, degraded: () => [] },
    hub: new EventHub({ capacity: 1024, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null }),
    history: null,
    auth: new Authenticator(config.api, { env: {} }),
    origins: new OriginPolicy([]),
    trustedProxies,
    throttle,
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters: new FeedCounters() },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  return {
    app,
    throttle,
    clock,
    base: `127.0.0.1:${(app.server.address() as { port: number }).port}`,
    logLines: () => logged.split('\n').filter((line) => line !== ''),
  };
}

async function api(server: Server, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`http://${server.base}/api/session`, { headers: { authorization: `Bearer ${token}`, ...headers } });
}

async function guess(server: Server, count: number, headers: Record<string, string> = {}): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await api(server, `wrong-${i}`, headers)).status);
  return statuses;
}

/** The status a WebSocket upgrade of the feed is answered with. */
function upgradeStatus(server: Server, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://${server.base}/feed`, { headers: { authorization: `Bearer ${token}` } });
    socket.once('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response: IncomingMessage) => resolve(response.statusCode!));
    socket.once('error', reject);
  });
}

describe('failed authentication', () => {
  it(`is refused with 429 and Retry-After after ${FAILURE_BURST} failures from one source: API, feed upgrade and sign-in, right token or not`, async () => {
    const server = await serve();
    expect(await guess(server, FAILURE_BURST)).toEqual(Array(FAILURE_BURST).fill(401));
    const refused = await api(server, 'wrong-again');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe(String(FAILURE_REFILL_MS / 1000));
    expect(await refused.json()).toEqual({ error: 'too_many_failures', message: expect.stringContaining('try again in 6 s') });
    expect((await api(server, TOKEN)).status).toBe(429);
    expect(await upgradeStatus(server, TOKEN)).toBe(429);
    const signIn = await fetch(`http://${server.base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
    expect(signIn.status).toBe(429);
    expect(server.throttle.counters).toEqual({ failures: FAILURE_BURST, throttled: 4 });
  });

  it('gets one more try back per refill interval', async () => {
    const server = await serve();
    await guess(server, FAILURE_BURST);
    server.clock.now += FAILURE_REFILL_MS;
    expect((await api(server, TOKEN)).status).toBe(200);
    expect(await guess(server, 2)).toEqual([401, 429]);
  });

  it('counts sign-in failures too', async () => {
    const server = await serve();
    const statuses = [];
    for (let i = 0; i <= FAILURE_BURST; i++) {
      const response = await server.app.inject({ method: 'POST', url: '/api/session', payload: { token: `wrong-${i}` }, remoteAddress: '192.0.2.9' });
      statuses.push(response.statusCode);
    }
    expect(statuses).toEqual([...Array(FAILURE_BURST).fill(401), 429]);
  });

  it('counts each client behind a trusted proxy on its own, by X-Forwarded-For', async () => {
    const server = await serve(['127.0.0.0/8']);
    expect((await guess(server, FAILURE_BURST + 1, { 'x-forwarded-for': '192.0.2.1' })).at(-1)).toBe(429);
    expect(await guess(server, 1, { 'x-forwarded-for': '192.0.2.2' })).toEqual([401]);
    // An IPv6 client is counted by its /64: another address in it shares the allowance.
    await guess(server, FAILURE_BURST, { 'x-forwarded-for': '2001:db8:7:7::1' });
    expect(await guess(server, 1, { 'x-forwarded-for': '2001:db8:7:7:ffff::2' })).toEqual([429]);
    expect(await guess(server, 1, { 'x-forwarded-for': '2001:db8:7:8::1' })).toEqual([401]);
  });

  it('believes X-Forwarded-For only from a trusted proxy, so a client cannot dodge by rotating it', async () => {
    const server = await serve(['192.0.2.0/24']);
    const statuses = [];
    for (let i = 0; i <= FAILURE_BURST; i++) statuses.push((await api(server, `wrong-${i}`, { 'x-forwarded-for': `198.51.100.${i}` })).status);
    expect(statuses.at(-1)).toBe(429);
  });

  it('is logged at most once a minute, with counts and the source, never the token', async () => {
    const server = await serve();
    await guess(server, FAILURE_BURST + 5);
    expect(server.logLines()).toHaveLength(1);
    server.clock.now += 60_000;
    await guess(server, 1);
    const lines = server.logLines().map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ msg: 'failed authentication (counts since the last such line)', latest_source: '127.0.0.1', failures: FAILURE_BURST, throttled: 5 });
    expect(server.logLines().join('\n')).not.toMatch(/wrong-/);
  });
});
