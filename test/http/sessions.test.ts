import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { EventHub } from '../../src/events/event-hub.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import { Authenticator, OriginPolicy, sha256Hex } from '../../src/http/auth.js';
import { buildHttpApp } from '../../src/http/http-server.js';

const ANALYST = 'session-analyst-token-0123456789';
const ADMIN = 'session-admin-token-0123456789ab';

function apiConfig(tokens: 'both' | 'analyst only', trustedProxies: string[] = []): Config {
  const lines = [`    - { name: alice, role: analyst, sha256: ${sha256Hex(ANALYST)} }`];
  if (tokens === 'both') lines.push(`    - { name: root, role: admin, sha256: ${sha256Hex(ADMIN)} }`);
  return loadConfig({
    text: `http: { trusted_proxies: ${JSON.stringify(trustedProxies)} }\napi:\n  session_ttl_s: 60\n  tokens:\n${lines.join('\n')}\n`,
    overrides: { upstream: ['127.0.0.1:5300'] },
  });
}

interface Server {
  app: FastifyInstance;
  auth: Authenticator;
  base: string;
  clock: { now: number };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const KEY_A = Buffer.from('session-key-a-0123456789abcdefghijklmnop');
const KEY_B = Buffer.from('session-key-b-0123456789abcdefghijklmnop');

/** A listening HTTP server whose sessions run on a clock the test moves and are signed with `keys`. */
async function serve(trustedProxies: string[] = [], keys: Buffer[] = [KEY_A]): Promise<Server> {
  const config = apiConfig('both', trustedProxies);
  const clock = { now: Date.now() };
  const auth = new Authenticator(config.api, { env: {}, now: () => clock.now, sessionKeys: keys });
  const app = await buildHttpApp({
    log: pino({ level: 'silent' }),
    health: { ready: () => true, degraded: () => [] },
    hub: new EventHub({ capacity: 1024, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null }),
    history: null,
    auth,
    origins: new OriginPolicy([]),
    trustedProxies: config.http.trusted_proxies,
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters: new FeedCounters(), settings: { heartbeatMs: 200 } },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  return { app, auth, base: `127.0.0.1:${(app.server.address() as { port: number }).port}`, clock };
}

async function signIn(server: Server, token: string, headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string }> {
  const response = await fetch(`http://${server.base}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ token }),
  });
  expect(response.status).toBe(200);
  const setCookie = response.headers.get('set-cookie')!;
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

async function whoAmI(server: Server, headers: Record<string, string>): Promise<number> {
  return (await fetch(`http://${server.base}/api/session`, { headers })).status;
}

/** A feed socket, open, recording how it closes. */
async function feed(server: Server, headers: Record<string, string>): Promise<{ closed: Promise<{ code: number; reason: string }>; socket: WebSocket }> {
  const socket = new WebSocket(`ws://${server.base}/feed`, { headers });
  cleanups.push(() => socket.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`refused with ${response.statusCode}`)));
  });
  return { closed, socket };
}

describe('sessions', () => {
  it('keeps nothing per sign-in: 10,000 sign-ins of one token leave every session working', async () => {
    const server = await serve();
    const admins = [await signIn(server, ADMIN), await signIn(server, ADMIN)];
    const first = await signIn(server, ANALYST);
    for (let i = 0; i < 10_000; i++) {
      const response = await server.app.inject({ method: 'POST', url: '/api/session', payload: { token: ANALYST } });
      expect(response.statusCode).toBe(200);
    }
    for (const session of [...admins, first]) expect(await whoAmI(server, { cookie: session.cookie })).toBe(200);
  }, 60_000);

  it('holds across a restart and on another instance with the same keys, and nowhere else', async () => {
    const first = await serve();
    const session = await signIn(first, ADMIN);
    await first.app.close();
    expect(await whoAmI(await serve(), { cookie: session.cookie })).toBe(200);
    expect(await whoAmI(await serve([], [KEY_B]), { cookie: session.cookie })).toBe(401);
  });

  it('rotates keys: a new first key signs, the old one still verifies until it is removed', async () => {
    const before = await signIn(await serve([], [KEY_A]), ANALYST);
    const rotated = await serve([], [KEY_B, KEY_A]);
    const after = await signIn(rotated, ANALYST);
    expect(await whoAmI(rotated, { cookie: before.cookie })).toBe(200);
    rotated.auth.replaceSessionKeys([KEY_B]);
    expect(await whoAmI(rotated, { cookie: before.cookie })).toBe(401);
    expect(await whoAmI(rotated, { cookie: after.cookie })).toBe(200);
  });

  it('refuses a cookie altered in any part: id, token, expiry or signature', async () => {
    const server = await serve();
    const { cookie } = await signIn(server, ANALYST);
    const [name, value] = [cookie.slice(0, cookie.indexOf('=')), decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1))];
    const [id, token, expires, signature] = value.split('.') as [string, string, string, string];
    const forged = [
      `${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}.${token}.${expires}.${signature}`,
      `${id}.${sha256Hex(ADMIN)}.${expires}.${signature}`,
      `${id}.${token}.${Number(expires) + 86_400_000}.${signature}`,
      `${id}.${token}.${expires}.${signature.slice(0, -2)}`,
      `${id}.${token}.${expires}`,
      'garbage',
      `${id}.${token}.${expires}.${signature}.${signature}`,
    ];
    for (const value of forged) expect(await whoAmI(server, { cookie: `${name}=${encodeURIComponent(value)}` }), value).toBe(401);
    expect(await whoAmI(server, { cookie })).toBe(200);
  });

  it("closes a session's feed sockets when it signs out, refuses the cookie after, and leaves other sessions alone", async () => {
    const server = await serve();
    const [one, other] = [await signIn(server, ANALYST), await signIn(server, ANALYST)];
    const [mine, theirs] = [await feed(server, { cookie: one.cookie }), await feed(server, { cookie: other.cookie })];
    const signOut = await fetch(`http://${server.base}/api/session`, { method: 'DELETE', headers: { cookie: one.cookie } });
    expect(signOut.status).toBe(204);
    expect(signOut.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect(await mine.closed).toEqual({ code: 4001, reason: 'signed out' });
    // A copy of the cookie kept elsewhere no longer opens anything here.
    expect(await whoAmI(server, { cookie: one.cookie })).toBe(401);
    expect(theirs.socket.readyState).toBe(WebSocket.OPEN);
    expect(await whoAmI(server, { cookie: other.cookie })).toBe(200);
  });

  it("closes an expired session's feed sockets within a heartbeat, and refuses the cookie", async () => {
    const server = await serve();
    // Signed in 59.5 s ago: the 60 s session ends half a second from now.
    server.clock.now = Date.now() - 59_500;
    const session = await signIn(server, ANALYST);
    server.clock.now = Date.now();
    const socket = await feed(server, { cookie: session.cookie });
    expect(await socket.closed).toEqual({ code: 4001, reason: 'session expired' });
    server.clock.now = Date.now();
    expect(await whoAmI(server, { cookie: session.cookie })).toBe(401);
  });

  it('stops a token removed from the configuration at once: bearer use, its sessions and its feed sockets', async () => {
    const server = await serve();
    const session = await signIn(server, ADMIN);
    const byCookie = await feed(server, { cookie: session.cookie });
    const byBearer = await feed(server, { authorization: `Bearer ${ADMIN}` });
    const analyst = await feed(server, { authorization: `Bearer ${ANALYST}` });
    expect(server.auth.replaceTokens(apiConfig('analyst only').api)).toBe(1);
    expect(await byCookie.closed).toEqual({ code: 4001, reason: 'token revoked' });
    expect(await byBearer.closed).toEqual({ code: 4001, reason: 'token revoked' });
    expect(await whoAmI(server, { cookie: session.cookie })).toBe(401);
    expect(await whoAmI(server, { authorization: `Bearer ${ADMIN}` })).toBe(401);
    expect(analyst.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('the session cookie', () => {
  it('is Secure when a trusted proxy says the browser came over HTTPS', async () => {
    const server = await serve(['127.0.0.0/8']);
    expect((await signIn(server, ANALYST, { 'x-forwarded-proto': 'https' })).setCookie).toMatch(/; Secure(;|$)/);
    expect((await signIn(server, ANALYST, { forwarded: 'for=192.0.2.7;proto=https' })).setCookie).toMatch(/; Secure(;|$)/);
    expect((await signIn(server, ANALYST, { forwarded: 'for=192.0.2.7;proto=http, for=10.0.0.1;proto="https"' })).setCookie).toMatch(/; Secure(;|$)/);
    expect((await signIn(server, ANALYST)).setCookie).not.toMatch(/Secure/);
    expect((await signIn(server, ANALYST, { forwarded: 'for=192.0.2.7;proto=https, for=10.0.0.1;proto=http' })).setCookie).not.toMatch(/Secure/);
  });

  it('ignores what an untrusted peer claims about HTTPS', async () => {
    const server = await serve(['192.0.2.0/24']);
    expect((await signIn(server, ANALYST, { 'x-forwarded-proto': 'https' })).setCookie).not.toMatch(/Secure/);
    expect((await signIn(server, ANALYST, { forwarded: 'proto=https' })).setCookie).not.toMatch(/Secure/);
  });
});
