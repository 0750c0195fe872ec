import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { CandidateReport } from '../../src/discovery/candidate-report.js';
import { DiscoveryQueue } from '../../src/discovery/discovery-queue.js';
import { EventHub } from '../../src/events/event-hub.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import { Authenticator, OriginPolicy, sha256Hex } from '../../src/http/auth.js';
import { buildHttpApp, type HttpOptions } from '../../src/http/http-server.js';
import { DiscoveryService } from '../../src/server/discovery-service.js';
import { loadConfiguredCatalogue } from '../../src/tagging/detection.js';

const ANALYST = 'discovery-analyst-token-0123456789';
const ADMIN = 'discovery-admin-token-0123456789ab';
const silent = pino({ level: 'silent' });
const analyst = { authorization: `Bearer ${ANALYST}` };
const admin = { authorization: `Bearer ${ADMIN}` };

let dir: string;
let rulesFile: string;
let queue: DiscoveryQueue;
let app: FastifyInstance;
let noRulesApp: FastifyInstance;

function report(name: string, overrides: Partial<CandidateReport> = {}): CandidateReport {
  return { name, queries: 4, first_seen: 1_000, last_seen: 2_000, clients: ['10.64.0.7'], follows: [{ app: 'tiktok', count: 4 }], network: null, hosting: [], ...overrides };
}

async function appFor(localRules: string, discoveryQueue: DiscoveryQueue): Promise<FastifyInstance> {
  const config = loadConfig({
    text: [
      'api:',
      '  tokens:',
      `    - { name: alice, role: analyst, sha256: ${sha256Hex(ANALYST)} }`,
      `    - { name: root, role: admin, sha256: ${sha256Hex(ADMIN)} }`,
      'detection:',
      `  local_rules: ${JSON.stringify(localRules)}`,
      '',
    ].join('\n'),
    overrides: { upstream: ['127.0.0.1:5300'] },
  });
  const options: HttpOptions = {
    log: silent,
    health: { ready: () => true, degraded: () => [] },
    hub: new EventHub({ capacity: 1024, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null }),
    history: null,
    auth: new Authenticator(config.api, { env: {} }),
    origins: new OriginPolicy([]),
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters: new FeedCounters() },
    discovery: new DiscoveryService(discoveryQueue, config.detection, silent, () => '2026-12-03'),
  };
  return buildHttpApp(options);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-discovery-api-'));
  rulesFile = join(dir, 'local-rules.yaml');
  queue = new DiscoveryQueue(100);
  app = await appFor(rulesFile, queue);
  noRulesApp = await appFor('', new DiscoveryQueue(100));
});
afterAll(async () => {
  await app.close();
  await noRulesApp.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  queue.merge({
    type: 'discovery',
    reports: [
      report('edge.unlisted-cdn.example'),
      report('ru.unlisted.example', { follows: [], network: { owner: 'Yandex MKPAO', country: 'RU', asn: 13238 }, hosting: [{ country: 'RU', asn: 13238 }] }),
    ],
    overflow: 0,
  });
});

const request = (method: 'GET' | 'POST', url: string, headers: InjectOptions['headers'], payload?: object) =>
  app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });

describe('GET /api/discovery', () => {
  it('lists candidates with their evidence, strongest first, for analysts, never with an address', async () => {
    const response = await request('GET', '/api/discovery', analyst);
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({ capacity: 100, evicted: 0, overflow: 0 });
    expect(body.candidates.find((candidate: { name: string }) => candidate.name === 'ru.unlisted.example')).toMatchObject({
      reasons: ['network', 'hosting'],
      network: { owner: 'Yandex MKPAO', country: 'RU', asn: 13238 },
      devices: 1,
      example_devices: [],
    });
    expect(response.body).not.toContain('10.64.0.7');
    expect((await request('GET', '/api/discovery?reason=follows', analyst)).json().candidates.map((candidate: { name: string }) => candidate.name)).toContain(
      'edge.unlisted-cdn.example',
    );
  });

  it('requires a token and refuses a bad query', async () => {
    expect((await request('GET', '/api/discovery', {})).statusCode).toBe(401);
    const bad = await request('GET', '/api/discovery?reason=rumour', analyst);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('invalid_request');
  });
});

describe('POST /api/discovery/{name}/dismiss', () => {
  it('takes the candidate out for good', async () => {
    const response = await request('POST', '/api/discovery/edge.unlisted-cdn.example/dismiss', analyst, {});
    expect(response.json()).toEqual({ name: 'edge.unlisted-cdn.example', dismissed: true });
    queue.merge({ type: 'discovery', reports: [report('edge.unlisted-cdn.example')], overflow: 0 });
    expect(queue.get('edge.unlisted-cdn.example')).toBeNull();
    const again = await request('POST', '/api/discovery/edge.unlisted-cdn.example/dismiss', analyst, {});
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toBe('unknown_candidate');
  });

  it('refuses a name that is no host name', async () => {
    const response = await request('POST', `/api/discovery/${encodeURIComponent('bad name.example')}/dismiss`, analyst, {});
    expect(response.statusCode).toBe(400);
  });
});

describe('POST /api/discovery/{name}/promote', () => {
  it('is for administrators only', async () => {
    const response = await request('POST', '/api/discovery/ru.unlisted.example/promote', analyst, { app: 'yandex-search', reason: 'ticket 7' });
    expect(response.statusCode).toBe(403);
  });

  it('appends a local rule naming who promoted it and why, and takes the name out of the queue', async () => {
    await writeFile(rulesFile, '# our own rules\n');
    const response = await request('POST', '/api/discovery/RU.Unlisted.Example./promote', admin, { app: 'tiktok', reason: 'INC-42: seen with TikTok on 3 phones' });
    expect(response.statusCode).toBe(200);
    const rule = { app: 'tiktok', domain: 'ru.unlisted.example', source: 'discovery queue, promoted by root: INC-42: seen with TikTok on 3 phones', verified: '2026-12-03' };
    expect(response.json()).toEqual({ name: 'ru.unlisted.example', rule, file: rulesFile });
    const text = await readFile(rulesFile, 'utf8');
    expect(text.startsWith('# our own rules\n')).toBe(true);
    // The file is what the server loads: the name is now TikTok's, from a local rule.
    const catalogue = loadConfiguredCatalogue(loadConfig({ text: `detection:\n  local_rules: ${JSON.stringify(rulesFile)}` }).detection);
    expect(catalogue.index.matchName('ru.unlisted.example')).toMatchObject({ app: { id: 'tiktok' }, origin: 'local' });
    expect(queue.get('ru.unlisted.example')).toBeNull();
  });

  it('refuses an unknown app, a name of another app, and an unknown candidate, writing nothing', async () => {
    await writeFile(rulesFile, '');
    queue.merge({ type: 'discovery', reports: [report('fresh.unlisted-cdn.example'), report('tiktokv.com')], overflow: 0 });
    const unknownApp = await request('POST', '/api/discovery/fresh.unlisted-cdn.example/promote', admin, { app: 'no-such-app', reason: 'test' });
    expect(unknownApp.statusCode).toBe(400);
    expect(unknownApp.json()).toMatchObject({ error: 'rule_refused', message: expect.stringContaining('"no-such-app"') });
    const taken = await request('POST', '/api/discovery/tiktokv.com/promote', admin, { app: 'wechat', reason: 'test' });
    expect(taken.statusCode).toBe(400);
    expect(taken.json()).toMatchObject({ error: 'rule_refused', message: expect.stringContaining('already claimed by tiktok') });
    const unknown = await request('POST', '/api/discovery/not-a-candidate.example/promote', admin, { app: 'tiktok', reason: 'test' });
    expect(unknown.statusCode).toBe(404);
    expect(await readFile(rulesFile, 'utf8')).toBe('');
    expect(queue.get('fresh.unlisted-cdn.example')).not.toBeNull();
  });

  it('needs a reason', async () => {
    const response = await request('POST', '/api/discovery/ru.unlisted.example/promote', admin, { app: 'tiktok', reason: ' ' });
    expect(response.statusCode).toBe(400);
  });

  it('answers 409 when no local rules file is configured', async () => {
    const response = await noRulesApp.inject({ method: 'POST', url: '/api/discovery/edge.unlisted-cdn.example/promote', headers: admin, payload: { app: 'tiktok', reason: 'x' } });
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toBe('no_local_rules');
  });
});

describe('OpenAPI', () => {
  it('describes the discovery routes', async () => {
    const { paths } = (await app.inject({ url: '/docs/json' })).json();
    expect(paths['/api/discovery'].get.tags).toEqual(['discovery']);
    expect(paths['/api/discovery/{name}/promote'].post.requestBody.content['application/json'].schema.required).toEqual(['app', 'reason']);
    expect(paths['/api/discovery/{name}/dismiss'].post).toBeDefined();
  });
});
