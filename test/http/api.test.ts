import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { Pseudonymiser } from '../../src/events/pseudonymiser.js';
import { History } from '../../src/history/history.js';
import { sha256Hex } from '../../src/http/auth.js';
import { buildHttpApp, type HttpOptions } from '../../src/http/http-server.js';
import { httpOptions } from '../support/http-options.js';
import { attachedHub, HOUR, makeEvent, publishAll, silentLog, T0, tempDir, TELEGRAM, WECHAT, written } from '../history/fixtures.js';

const ANALYST_TOKEN = 'analyst-token-0123456789';
const ADMIN_TOKEN = 'admin-token-0123456789abc';
const analyst = { authorization: `Bearer ${ANALYST_TOKEN}` };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

function configFor(historyPath: string): Config {
  const yaml = [
    'history:',
    `  path: ${JSON.stringify(historyPath)}`,
    'api:',
    '  tokens:',
    `    - { name: alice, role: analyst, sha256: ${sha256Hex(ANALYST_TOKEN)} }`,
    `    - { name: root, role: admin, sha256: ${sha256Hex(ADMIN_TOKEN)} }`,
    '',
  ].join('\n');
  return loadConfig({ text: yaml, overrides: { upstream: ['127.0.0.1:5300'] } });
}

function contextFor(config: Config, history: History | null, hub: EventHub): HttpOptions {
  return httpOptions(config.api, history, hub);
}

let app: FastifyInstance;
let history: History;
let cleanup: () => Promise<void>;
let published: DetectionEvent[];
let pseudonym: string;

beforeAll(async () => {
  const temp = await tempDir();
  cleanup = temp.cleanup;
  const config = configFor(join(temp.dir, 'history.sqlite'));
  history = History.open(config.history, silentLog);
  const pseudonymiser = new Pseudonymiser('k'.repeat(32), (p, address) => history.rememberPseudonym(p, address));
  const hub = attachedHub(history, { pseudonymiser });
  published = publishAll(hub, [
    /* 1 */ makeEvent({ ts: T0 - 2 * HOUR, client: '10.64.0.7' }),
    /* 2 */ makeEvent({ ts: T0 - HOUR, client: '10.64.0.8', app: WECHAT, qname: 'long.weixin.qq.com', action: 'monitor', hosting: [{ ip: '203.0.113.9', country: 'CN', asn: 45090, org: null }], count: 3 }),
    /* 3 */ makeEvent({ ts: T0, client: '10.64.0.7', app: TELEGRAM, qname: 'web.telegram.org', action: 'exempt', exemption: 'press' }),
    /* 4 */ makeEvent({ ts: T0 + HOUR, client: '10.64.0.9', kind: 'query', app: null, action: 'allow', qname: 'example.nl' }),
    /* 5 */ makeEvent({ ts: T0 + 2 * HOUR, client: '10.64.0.8', action: 'block' }),
    /* 6 */ makeEvent({
      ts: T0 + 3 * HOUR,
      client: '10.64.0.9',
      app: null,
      matched_name: null,
      attribution: 'network',
      owner: { name: 'Yandex MKPAO', country: 'RU' },
      qname: 'edge.unlisted-cdn.example',
      action: 'allow',
      rule: null,
      hosting: [{ ip: '77.88.8.8', country: 'RU', asn: 13238, org: 'YANDEX LLC' }],
    }),
  ]);
  pseudonym = pseudonymiser.of('10.64.0.7');
  await written(history, published.length);
  app = await buildHttpApp(contextFor(config, history, hub));
});
afterAll(async () => {
  await app.close();
  await history.close();
  await cleanup();
});

const get = (url: string, headers: InjectOptions['headers'] = analyst) => app.inject({ method: 'GET', url, headers });
const resolve = (body: object, headers: InjectOptions['headers'] = admin) => app.inject({ method: 'POST', url: '/api/pseudonyms/resolve', headers, payload: body });

describe('API access control', () => {
  it('answers 401 without a token and with an unknown one', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-token-at-all' }]) {
      const response = await get('/api/events', headers);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: 'unauthenticated', message: expect.any(String) });
    }
  });

  it('answers 403 to an analyst on admin routes, and audits a refused re-identification', async () => {
    expect((await get('/api/audit')).statusCode).toBe(403);
    const response = await resolve({ pseudonym, reason: 'curious' }, analyst);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ error: 'forbidden', message: 'this needs the admin role' });
    const tried = history.audit(null, 100).items.filter((entry) => entry.principal === 'alice');
    expect(tried).toEqual([
      { id: expect.any(Number), ts: expect.any(Number), principal: 'alice', action: 'resolve_pseudonym', subject: pseudonym, reason: 'curious', found: false, outcome: 'refused' },
    ]);
    // Even without a valid body: the attempt is refused and recorded, never answered with the schema's 400.
    expect((await resolve({ pseudonym: 42 }, analyst)).statusCode).toBe(403);
    expect(history.audit(null, 1).items[0]).toMatchObject({ principal: 'alice', subject: '', reason: '', outcome: 'refused' });
  });

  it('refuses a session cookie sent from a foreign origin', async () => {
    const signIn = await app.inject({ method: 'POST', url: '/api/session', payload: { token: ANALYST_TOKEN } });
    expect(signIn.statusCode).toBe(200);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    expect((await get('/api/events', { cookie })).statusCode).toBe(200);
    const foreign = await get('/api/events', { cookie, origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error).toBe('forbidden_origin');
  });

  it('marks answers as not cacheable', async () => {
    expect((await get('/api/events')).headers['cache-control']).toBe('no-store');
  });
});

describe('GET /api/events', () => {
  const idsOf = async (query: string): Promise<number[]> => {
    const response = await get(`/api/events${query}`);
    expect(response.statusCode).toBe(200);
    return (response.json().events as DetectionEvent[]).map((event) => event.id);
  };

  it('returns the stored events newest first, exactly as published', async () => {
    const response = await get('/api/events');
    expect(response.json()).toEqual({ events: [...published].reverse(), next_before_id: null });
    expect(published[0]!.client).toBe(pseudonym);
  });

  it('keeps the number of queries a folded event stands for', async () => {
    expect((await get('/api/events?app=wechat')).json().events.map((event: DetectionEvent) => event.count)).toEqual([3]);
  });

  it.each([
    ['?action=block', [5, 1]],
    ['?kind=query', [4]],
    ['?app=wechat', [2]],
    ['?owner_country=ae', [3]],
    ['?owner_country=RU', [6]],
    ['?attribution=network', [6]],
    ['?attribution=name&action=block', [5, 1]],
    ['?hosting_country=CN', [2]],
    ['?qname=tiktokv.com', [5, 1]],
    ['?group=ministry&action=exempt', [3]],
    [`?since=${new Date(T0).toISOString()}`, [6, 5, 4, 3]],
    [`?since=${T0 - HOUR}&until=${T0 + HOUR}`, [3, 2]],
  ])('filters %s', async (query, expected) => {
    expect(await idsOf(query)).toEqual(expected);
  });

  it('filters by a pseudonymised client', async () => {
    expect(await idsOf(`?client=${encodeURIComponent(pseudonym)}`)).toEqual([3, 1]);
  });

  it('pages with before_id', async () => {
    const first = (await get('/api/events?limit=4')).json();
    expect(first.events.map((event: DetectionEvent) => event.id)).toEqual([6, 5, 4, 3]);
    expect(first.next_before_id).toBe(3);
    const second = (await get(`/api/events?limit=1&before_id=${first.next_before_id}`)).json();
    expect(second.events.map((event: DetectionEvent) => event.id)).toEqual([2]);
    const last = (await get(`/api/events?limit=2&before_id=${second.next_before_id}`)).json();
    expect(last).toEqual({ events: [published[0]], next_before_id: null });
  });

  it.each([
    ['?limit=1001', 'invalid_request'],
    ['?limit=0', 'invalid_request'],
    ['?kind=everything', 'invalid_request'],
    ['?owner_country=CHN', 'invalid_request'],
    ['?attribution=guess', 'invalid_request'],
    ['?since=yesterday', 'invalid_request'],
    ['?since=2025-13-01', 'invalid_time'],
  ])('rejects %s with a stable error code', async (query, code) => {
    const response = await get(`/api/events${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: code, message: expect.any(String) });
  });
});

describe('parameters', () => {
  it.each([
    ['limit=1e400', 'limit'],
    ['limit=-1e400', 'limit'],
    ['limit=Infinity', 'limit'],
    ['limit=0x10', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=010', 'limit'],
    ['limit=+5', 'limit'],
    ['limit=5&limit=6', 'limit'],
    ['before_id=1e400', 'before_id'],
    ['before_id=99999999999999999', 'before_id'],
    ['client=not-an-ip', 'client'],
    ['client=10.064.0.7', 'client'],
    ['client=p:ABCDEF0123456789abcdef01', 'client'],
  ])('refuses %s with 400 naming the field', async (query, field) => {
    const response = await get(`/api/events?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'invalid_request', message: expect.stringContaining(field) });
  });

  it('refuses a device that is neither an address, a pseudonym nor a device id', async () => {
    const response = await get('/api/devices/not_a_device/apps');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'invalid_request', message: expect.stringContaining('params/client') });
  });

});

describe('error bodies', () => {
  const shaped = (status: number, error: string) => ({ status, body: { error, message: expect.any(String) } });
  it.each([
    ['GET', '/nope', undefined, {}, shaped(404, 'not_found')],
    ['GET', '/api/nope', undefined, analyst, shaped(404, 'not_found')],
    ['GET', '/dashboard/missing.js', undefined, {}, shaped(404, 'not_found')],
    ['PUT', '/api/session', undefined, {}, shaped(405, 'method_not_allowed')],
    ['DELETE', '/api/events', undefined, analyst, shaped(405, 'method_not_allowed')],
    ['POST', '/api/session', 'x'.repeat(70_000), { 'content-type': 'application/json' }, shaped(413, 'payload_too_large')],
    ['POST', '/api/session', 'token', { 'content-type': 'text/plain' }, shaped(415, 'unsupported_media_type')],
    ['POST', '/api/session', '{"token":', { 'content-type': 'application/json' }, shaped(400, 'bad_request')],
    ['POST', '/api/session', '{}', { 'content-type': 'application/json' }, shaped(400, 'invalid_request')],
    ['GET', '/feed', undefined, {}, shaped(401, 'unauthenticated')],
    ['GET', '/feed?colour=red', undefined, analyst, shaped(400, 'bad_filter')],
  ] as const)('%s %s answers %j', async (method, url, payload, headers, expected) => {
    const response = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    expect({ status: response.statusCode, body: response.json() }).toEqual(expected);
  });

  it('names the methods a path serves in Allow', async () => {
    const response = await app.inject({ method: 'PUT', url: '/api/session' });
    expect(String(response.headers.allow).split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'POST']);
  });
});

describe('GET /api/exposure', () => {
  it('answers per group for the last days and the days before, in the documented shape', async () => {
    // The fixtures lie in 2025: a year-long window would be needed to see them; a week sees none.
    const response = await get('/api/exposure?days=7');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ days: 7, groups: [] });
    expect(response.json().until - response.json().since).toBe(7 * 24 * HOUR);
  });

  it('refuses a period outside 1 to 90 days, and anyone without a token', async () => {
    for (const days of ['0', '91', '1e2', 'week']) expect((await get(`/api/exposure?days=${days}`)).statusCode, days).toBe(400);
    expect((await get('/api/exposure', {})).statusCode).toBe(401);
  });
});

describe('GET /api/stats', () => {
  it('aggregates over the default window of 24 hours', async () => {
    const response = await get('/api/stats');
    expect(response.statusCode).toBe(200);
    const stats = response.json();
    expect(stats.window).toBe('24h');
    expect(stats.until - stats.since).toBe(24 * HOUR);
    // The fixtures' timestamps lie in 2025, outside the window that ends now.
    expect(stats.actions).toEqual({ allow: 0, monitor: 0, block: 0, exempt: 0 });
    expect(stats.actions_per_hour).toHaveLength(25);
    expect(stats.actions_per_hour[0]).toEqual({ start: expect.any(Number), allow: 0, monitor: 0, block: 0, exempt: 0 });
  });

  it('rejects an unknown window', async () => {
    const response = await get('/api/stats?window=2h');
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('invalid_request');
  });

  it('narrows to one client or one device, and refuses both at once or a malformed one', async () => {
    expect((await get('/api/stats?client=10.0.0.1')).statusCode).toBe(200);
    expect((await get('/api/stats?device=ipad-12&window=7d')).statusCode).toBe(200);
    for (const query of ['client=10.0.0.1&device=ipad-12', 'client=not-an-address', 'device=Not%20A%20Device', 'client=010.0.0.1']) {
      const response = await get(`/api/stats?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error, query).toBe('invalid_request');
    }
  });
});

describe('devices', () => {
  it("lists a device's inventory by its URL-encoded pseudonym", async () => {
    const response = await get(`/api/devices/${encodeURIComponent(pseudonym)}/apps`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      client: pseudonym,
      apps: [
        { ...TELEGRAM, first_seen: T0, last_seen: T0, count: 1 },
        { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN', first_seen: T0 - 2 * HOUR, last_seen: T0 - 2 * HOUR, count: 1 },
      ],
    });
  });

  it('answers 404 for a device without inventory', async () => {
    const response = await get(`/api/devices/${encodeURIComponent('fd00::99')}/apps`);
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toBe('unknown_device');
  });

  it('lists devices by latest activity', async () => {
    const response = await get('/api/devices?limit=5');
    expect(response.json()).toEqual({
      devices: [
        { client: published[4]!.client, last_address: published[4]!.client, apps: 2, last_seen: T0 + 2 * HOUR },
        { client: pseudonym, last_address: pseudonym, apps: 2, last_seen: T0 },
      ],
    });
  });
});

describe('pseudonym resolution', () => {
  it('gives an admin the address and audits the call under the admin name', async () => {
    const response = await resolve({ pseudonym, reason: 'INC-7 compromised phone' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ pseudonym, address: '10.64.0.7' });

    const audit = (await get('/api/audit', admin)).json();
    expect(audit.entries[0]).toEqual({
      id: expect.any(Number),
      ts: expect.any(Number),
      principal: 'root',
      action: 'resolve_pseudonym',
      subject: pseudonym,
      reason: 'INC-7 compromised phone',
      found: true,
      outcome: 'disclosed',
    });
    expect(JSON.stringify(audit)).not.toContain(ADMIN_TOKEN);
  });

  it('answers 404 for an unknown pseudonym, audited all the same', async () => {
    const response = await resolve({ pseudonym: 'p:ffffffffffffffffffffffff', reason: 'typo?' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toBe('unknown_pseudonym');
    const latest = (await get('/api/audit?limit=1', admin)).json().entries[0];
    expect(latest).toMatchObject({ subject: 'p:ffffffffffffffffffffffff', found: false, outcome: 'not_found', principal: 'root' });
  });

  it('requires a reason', async () => {
    for (const body of [{ pseudonym }, { pseudonym, reason: '   ' }]) {
      const response = await resolve(body);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBe('invalid_request');
    }
  });
});

describe('without history', () => {
  it('answers 503 no_history on history routes, after authentication', async () => {
    const temp = await tempDir();
    const config = configFor(join(temp.dir, 'unused.sqlite'));
    const hub = new EventHub({ capacity: 1024, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null });
    const bare = await buildHttpApp(contextFor(config, null, hub));
    try {
      expect((await bare.inject({ url: '/api/events' })).statusCode).toBe(401);
      for (const url of ['/api/events', '/api/stats', '/api/devices', '/api/devices/x/apps']) {
        const response = await bare.inject({ url, headers: analyst });
        expect(response.statusCode, url).toBe(503);
        expect(response.json()).toEqual({ error: 'no_history', message: expect.any(String) });
      }
    } finally {
      await bare.close();
      await temp.cleanup();
    }
  });
});

describe('OpenAPI', () => {
  it('describes every API route with its tag and schemas', async () => {
    const response = await app.inject({ url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    const { paths } = response.json();
    expect(paths['/api/events'].get.tags).toEqual(['history']);
    expect(paths['/api/events'].get.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(
      expect.arrayContaining(['kind', 'action', 'app', 'group', 'client', 'owner_country', 'attribution', 'hosting_country', 'qname', 'since', 'until', 'before_id', 'limit']),
    );
    const event = paths['/api/events'].get.responses['200'].content['application/json'].schema.properties.events.items;
    expect(event.properties.app.nullable).toBe(true);
    expect(event.properties.attribution).toMatchObject({ type: 'string', nullable: true, enum: ['name', 'network', null] });
    expect(event.properties.owner).toMatchObject({ nullable: true, properties: { name: { type: 'string' }, country: { type: 'string' } } });
    expect(event.required).toEqual(expect.arrayContaining(['attribution', 'owner']));
    expect(event.properties.count).toMatchObject({ type: 'integer', minimum: 1, description: expect.stringContaining('folded') });
    expect(event.required).toContain('count');
    expect(paths['/api/stats'].get.summary).toMatch(/Top apps/);
    expect(paths['/api/devices/{client}/apps'].get.tags).toEqual(['devices']);
    expect(paths['/api/devices'].get).toBeDefined();
    expect(paths['/api/pseudonyms/resolve'].post.requestBody.content['application/json'].schema.required).toEqual(['pseudonym', 'reason']);
    expect(paths['/api/audit'].get.tags).toEqual(['privacy']);
  });
});
