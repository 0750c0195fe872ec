import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { DASHBOARD_HEADERS, dashboardRoutes } from '../../src/dashboard/dashboard-routes.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import { Authenticator, OriginPolicy } from '../../src/http/auth.js';
import { buildHttpApp, type HttpOptions } from '../../src/http/http-server.js';
import { spawnWachtpost, type ServedProcess } from '../integration/harness.js';
import { axeScan, launch, openPage, screenshot, signIn as signInWith, WAIT_MS, waitLive, type PageOptions } from '../support/dashboard-page.js';
import { dig } from '../support/dig.js';
import { nameAttribution } from '../support/events.js';
import { startKnot, type KnotServer } from '../support/knot.js';

const TOKEN = 'dashboard-test-token-0123456789';
const signIn = (page: Page, token = TOKEN): Promise<void> => signInWith(page, token);
function detection(overrides: Partial<DetectionEvent> = {}): DetectionEvent {
  const app = overrides.app === undefined ? { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' } : overrides.app;
  return {
    id: 0,
    ts: Date.now(),
    kind: 'detection',
    instance: 'test',
    client: '10.64.3.7',
    device: null,
    group: 'ministry',
    qname: 'api16-normal-c-useast1a.tiktokv.com',
    qtype: 'A',
    rcode: 'NOERROR',
    app,
    matched_name: 'api16-normal-c-useast1a.tiktokv.com',
    ...nameAttribution(app),
    hosting: [{ ip: '192.0.2.30', country: 'US', asn: 64500, org: 'Example Hosting' }],
    owner_watchlisted: true,
    hosting_watchlisted: false,
    action: 'monitor',
    rule: 'owner-country:CN',
    exemption: null,
    latency_ms: 3.2,
    cached: false,
    count: 1,
    ...overrides,
  };
}

const rowFor = (page: Page, qname: string) => page.locator('#events tbody tr', { has: page.locator('td:nth-child(4)', { hasText: qname }) });

async function applyFilter(page: Page, fill: (page: Page) => Promise<void>): Promise<void> {
  await fill(page);
  await page.getByRole('button', { name: 'Apply filter' }).click();
  await page.locator('#status-text', { hasText: 'filtered' }).waitFor({ timeout: WAIT_MS });
}

describe('dashboard routes', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildHttpApp(httpContext(newHub()));
  });
  afterAll(() => app.close());

  it('serves the page and its assets with a strict policy and no caching', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    for (const [name, value] of Object.entries(DASHBOARD_HEADERS)) expect(page.headers[name]).toBe(value);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    const assets = [...page.body.matchAll(/(?:src|href)="(\/dashboard\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/dashboard/main.js', '/dashboard/dashboard.css']));
    for (const asset of assets) {
      const response = await app.inject({ method: 'GET', url: asset });
      expect(response.statusCode, asset).toBe(200);
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await app.inject({ method: 'GET', url: '/dashboard/main.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await app.inject({ method: 'GET', url: '/dashboard/dashboard.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers a revalidation with 304 and unknown files with 404', async () => {
    const first = await app.inject({ method: 'GET', url: '/dashboard/feed.js' });
    const again = await app.inject({ method: 'GET', url: '/dashboard/feed.js', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect((await app.inject({ method: 'GET', url: '/dashboard/../../package.json' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/dashboard/nothing.js' })).statusCode).toBe(404);
  });

  it('switches only itself off, with a logged error, when its files are missing', async () => {
    const errors: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
    const bare = Fastify();
    await bare.register(dashboardRoutes, { log, dir: join(tmpdir(), 'wachtpost-no-such-dashboard') });
    const response = await bare.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-security-policy']).toBe(DASHBOARD_HEADERS['content-security-policy']);
    expect(errors.join('')).toContain('dashboard files not found');
    await bare.close();
  });
});

function newHub(): EventHub {
  return new EventHub({ capacity: 4096, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null });
}

function httpContext(hub: EventHub): HttpOptions {
  const config = loadConfig({ text: '', overrides: { upstream: ['127.0.0.1'] } });
  return {
    log: pino({ level: 'silent' }),
    health: { ready: () => true, degraded: () => [] },
    hub,
    history: null,
    auth: new Authenticator(config.api, { env: { WACHTPOST_ADMIN_TOKEN: TOKEN } }),
    origins: new OriginPolicy([]),
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters: new FeedCounters(), settings: { heartbeatMs: 1000 } },
  };
}

describe('dashboard in Chromium against the HTTP app and a real event hub', { timeout: 60_000 }, () => {
  let hub: EventHub;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    hub = newHub();
    app = await buildHttpApp(httpContext(hub));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await launch();
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });

  async function open(options: PageOptions = {}) {
    const opened = await openPage(browser, base, options);
    contexts.push(opened.context);
    return opened;
  }

  it('passes an axe-core scan (WCAG 2.1 A and AA) with no serious or critical violation, signed out and signed in, light and dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { page } = await open({ bypassCSP: true, colorScheme });
      const scan = async (): Promise<string[]> => {
        const { serious, passed } = await axeScan(page);
        // The rules ran (contrast, names, labels, landmarks…): an empty list means something.
        expect(passed).toBeGreaterThan(10);
        return serious;
      };
      await page.locator('#sign-in').waitFor({ state: 'visible', timeout: WAIT_MS });
      expect(await scan(), `signed out, ${colorScheme}`).toEqual([]);
      await signIn(page);
      await waitLive(page);
      for (let i = 0; i < 5; i++) hub.publish(detection({ qname: `a${i}.tiktokv.com`, action: i % 2 === 0 ? 'block' : 'monitor' }));
      await page.waitForFunction("document.querySelectorAll('#events tbody tr').length >= 5", null, { timeout: WAIT_MS });
      expect(await scan(), `signed in, ${colorScheme}`).toEqual([]);
      if (colorScheme === 'light') {
        await page.goto(`${base}/dashboard/report.html?days=7`);
        await page.locator('#report-note', { hasText: 'No report' }).waitFor({ timeout: WAIT_MS });
        expect(await scan(), 'the printable report').toEqual([]);
      }
    }
  });

  it('shows nothing but the sign-in form without a session, and refuses a wrong token', async () => {
    const { page, problems } = await open();
    await page.locator('#sign-in').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await page.locator('#workspace').isHidden()).toBe(true);
    expect(await page.getByLabel('Access token').getAttribute('type')).toBe('password');
    await screenshot(page, 'sign-in');
    hub.publish(detection({ qname: 'unseen.tiktokv.com' }));
    // What a page script could reach without signing in: nothing.
    const refused = await page.evaluate(`(async () => {
      const stats = await fetch('/api/stats?window=1h');
      const feed = await new Promise((resolve) => {
        const socket = new WebSocket('ws://' + location.host + '/feed?backlog=10');
        socket.onopen = () => resolve('open');
        socket.onclose = () => resolve('closed');
      });
      return { stats: stats.status, session: (await fetch('/api/session')).status, feed };
    })()`);
    expect(refused).toEqual({ stats: 401, session: 401, feed: 'closed' });
    expect(await page.locator('#events tbody tr').count()).toBe(0);

    await signIn(page, 'not-the-token-at-all-000000');
    await page.getByText('That token was not accepted.').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#workspace').isHidden()).toBe(true);
    expect(await page.getByLabel('Access token').inputValue()).toBe('');
    expect(page.url()).toBe(base + '/');
    expect(problems).toEqual([]);
  });

  it('signs in, shows live detections as text, counts, filters and signs out', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await waitLive(page);
    expect(await page.locator('#who-name').textContent()).toBe('env-admin (admin)');
    expect(page.url()).toBe(base + '/');
    expect(await page.evaluate('({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })')).toEqual({
      local: 0,
      session: 0,
      cookie: '',
    });

    const hostile = '<img src=x onerror="window.pwned=1">.evil.example';
    hub.publish(detection({ qname: hostile, hosting: [{ ip: '198.51.100.7', country: 'RU', asn: 13238, org: '<b>YANDEX</b>' }], hosting_watchlisted: true }));
    hub.publish(detection({ qname: 'allowed.example.nl', app: null, matched_name: null, owner_watchlisted: false, action: 'allow', rule: null }));
    hub.publish(detection({ qname: 'blocked.tiktokv.com', action: 'block', cached: true }));
    await rowFor(page, 'blocked.tiktokv.com').waitFor({ timeout: WAIT_MS });

    const hostileRow = rowFor(page, '.evil.example');
    expect(await hostileRow.locator('td').nth(3).textContent()).toBe(hostile);
    expect(await hostileRow.locator('td').nth(6).textContent()).toBe('RU AS13238 <b>YANDEX</b>');
    expect(await page.locator('#events img, #events b').count()).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    // Newest first.
    expect(await page.locator('#events tbody tr').first().locator('td').nth(3).textContent()).toBe('blocked.tiktokv.com');
    const blocked = rowFor(page, 'blocked.tiktokv.com').locator('td');
    expect(await blocked.nth(5).textContent()).toBe('TikTok (CN)');
    expect(await blocked.nth(7).textContent()).toBe('block');
    expect(await blocked.nth(10).textContent()).toBe('yes');
    await page.locator('#counters dd[data-action="block"]', { hasText: /^1$/ }).waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#counters dd[data-action="allow"]').textContent()).toBe('1');

    await applyFilter(page, async (p) => {
      await p.getByLabel('block', { exact: true }).check();
    });
    await rowFor(page, 'allowed.example.nl').waitFor({ state: 'detached', timeout: WAIT_MS });
    hub.publish(detection({ qname: 'late-allowed.example.nl', app: null, action: 'allow', rule: null }));
    hub.publish(detection({ qname: 'late-blocked.tiktokv.com', action: 'block' }));
    await rowFor(page, 'late-blocked.tiktokv.com').waitFor({ timeout: WAIT_MS });
    expect(await rowFor(page, 'late-allowed.example.nl').count()).toBe(0);

    // A value the feed would refuse is explained instead of sent.
    await page.locator('#filter').getByLabel('Owner country', { exact: true }).fill('China');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    expect(await page.locator('#filter-error').textContent()).toContain('"CHINA" is not a two-letter country code');
    expect(await page.locator('#filter').getByLabel('Owner country', { exact: true }).getAttribute('aria-invalid')).toBe('true');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#sign-in').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(await page.locator('#events tbody tr').count()).toBe(0);
    expect(await page.evaluate("fetch('/api/session').then((response) => response.status)")).toBe(401);
    expect(problems).toEqual([]);
  });

  it('returns to the sign-in form when its session is ended elsewhere (feed closed with 4001)', async () => {
    const { page, context, problems } = await open();
    await signIn(page);
    await waitLive(page);
    const [cookie] = await context.cookies();
    // Signing out from another tab (or an administrator removing the token) ends the session.
    const signOut = await fetch(`${base}/api/session`, { method: 'DELETE', headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(signOut.status).toBe(204);
    await page.locator('#sign-in').waitFor({ state: 'visible', timeout: WAIT_MS });
    expect(problems).toEqual([]);
  });

  it('tells a network attribution (owner, marked as likely) from a name match, and filters on attribution', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await waitLive(page);
    const yandex = { name: 'Yandex MKPAO', country: 'RU' };
    hub.publish(detection({ qname: 'edge.unlisted-cdn.example', app: null, matched_name: null, attribution: 'network', owner: yandex, action: 'allow', rule: null }));
    hub.publish(detection({ qname: 'named.tiktokv.com' }));
    await rowFor(page, 'named.tiktokv.com').waitFor({ timeout: WAIT_MS });

    const network = rowFor(page, 'edge.unlisted-cdn.example').locator('td').nth(5);
    expect(await network.textContent()).toBe('≈ Yandex MKPAO (RU)');
    expect(await network.getAttribute('title')).toBe(
      'Attributed by network: an answer address lies in a network Yandex MKPAO (RU) operates; no catalogue rule names edge.unlisted-cdn.example',
    );
    expect(await network.locator('mark').textContent()).toBe('(RU)');
    expect(await rowFor(page, 'named.tiktokv.com').locator('td').nth(5).textContent()).toBe('TikTok (CN)');

    await applyFilter(page, async (p) => {
      await p.getByLabel('by network').check();
    });
    await rowFor(page, 'named.tiktokv.com').waitFor({ state: 'detached', timeout: WAIT_MS });
    hub.publish(detection({ qname: 'late.tiktokv.com' }));
    hub.publish(detection({ qname: 'late.unlisted-cdn.example', app: null, matched_name: null, attribution: 'network', owner: yandex, action: 'allow', rule: null }));
    await rowFor(page, 'late.unlisted-cdn.example').waitFor({ timeout: WAIT_MS });
    expect(await rowFor(page, 'late.tiktokv.com').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('marks a folded event with ×N beside the name and counts every query it stands for', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await waitLive(page);
    // A name far wider than its column: the mark must stay in view all the same.
    hub.publish(detection({ qname: `${'edge-'.repeat(40)}folded.tiktokv.com`, action: 'exempt', exemption: 'press', count: 1200 }));
    hub.publish(detection({ qname: 'single.tiktokv.com', action: 'exempt', exemption: 'press' }));
    await rowFor(page, 'single.tiktokv.com').waitFor({ timeout: WAIT_MS });

    const name = rowFor(page, 'folded.tiktokv.com').locator('td').nth(3);
    const fold = name.locator('.fold');
    expect(await fold.locator('[aria-hidden="true"]').textContent()).toBe('×1,200');
    expect(await fold.getAttribute('title')).toBe('1,200 identical queries');
    expect(await fold.locator('.visually-hidden').textContent()).toBe(' (1,200 identical queries)');
    const [cell, mark] = [await name.boundingBox(), await fold.boundingBox()];
    expect(mark!.x + mark!.width).toBeLessThanOrEqual(cell!.x + cell!.width);

    const single = rowFor(page, 'single.tiktokv.com').locator('td').nth(3);
    expect(await single.textContent()).toBe('single.tiktokv.com');
    expect(await single.locator('.fold').count()).toBe(0);
    await page.locator('#counters dd[data-action="exempt"]', { hasText: /^1,201$/ }).waitFor({ timeout: WAIT_MS });
    expect(problems).toEqual([]);
  });

  it('pauses the display, keeps at most 500 rows through a burst, then resumes', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await waitLive(page);
    // The backlog of earlier tests' events is shown (so it is not held by the pause) but not counted.
    await page.locator('#empty').waitFor({ state: 'hidden', timeout: WAIT_MS });
    expect(await page.locator('#counters dd[data-action="monitor"]').textContent()).toBe('0');
    await page.getByRole('button', { name: 'Pause' }).click();
    for (let i = 0; i < 1500; i++) hub.publish(detection({ qname: `burst-${i}.tiktokv.com`, client: `10.64.${i % 7}.1` }));
    await page.locator('#pause', { hasText: 'Resume (1,500 new)' }).waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#events tbody tr', { hasText: 'burst-' }).count()).toBe(0);
    expect(await page.locator('#pause').getAttribute('aria-pressed')).toBe('true');
    await page.locator('#pause').click();
    await rowFor(page, 'burst-1499.tiktokv.com').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#events tbody tr').count()).toBe(500);
    expect(await page.locator('#events tbody tr').first().locator('td').nth(3).textContent()).toBe('burst-1499.tiktokv.com');
    expect(await page.locator('#events tbody tr').last().locator('td').nth(3).textContent()).toBe('burst-1000.tiktokv.com');
    expect(await page.locator('#counters dd[data-action="monitor"]').textContent()).toBe('1,500');
    expect(problems).toEqual([]);
  });

  it('says "no history" where this node keeps none, and opens a device by keyboard', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await waitLive(page);
    // The app under test has history off: the API answers 503 for both panels.
    await page.getByText('No history: this node keeps none, or it is unavailable.').waitFor({ timeout: WAIT_MS });
    hub.publish(detection({ qname: 'device.tiktokv.com', client: '10.64.9.9' }));
    const client = rowFor(page, 'device.tiktokv.com').getByRole('button', { name: '10.64.9.9' });
    await client.focus();
    await page.keyboard.press('Enter');
    await page.getByText('10.64.9.9: No history').waitFor({ timeout: WAIT_MS });
    expect(await page.locator('#live').isVisible()).toBe(true);

    await page.route('**/api/devices/**', (route) =>
      route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"unknown_device","message":"no app has been seen on this device"}' }),
    );
    await client.click();
    await page.getByText('No catalogued app has been seen on 10.64.9.9 within the retention period.').waitFor({ timeout: WAIT_MS });
    expect(problems).toEqual([]);
  });

  it('resumes with since=<last id> after the feed drops it, marks a gap, and drops what a new filter excludes', async () => {
    const { page, problems } = await open();
    const urls: string[] = [];
    const sent: unknown[] = [];
    // A scripted feed: what the server sends after a drop is hard to provoke on cue.
    await page.routeWebSocket(/\/feed/, (socket) => {
      urls.push(socket.url());
      const send = (message: unknown) => socket.send(JSON.stringify(message));
      send({ type: 'hello', last_id: urls.length === 1 ? 42 : 50, oldest_id: 1, filter: {}, heartbeat_ms: 1000 });
      if (urls.length === 1) {
        for (const id of [40, 41, 42]) send({ type: 'event', event: { ...detection({ qname: `before-${id}.tiktokv.com` }), id } });
        setTimeout(() => socket.close({ code: 4008, reason: 'too slow' }), 50);
      } else {
        send({ type: 'event', event: { ...detection({ qname: 'before-42.tiktokv.com' }), id: 42 } });
        send({ type: 'gap', missed: 7, from: 43, to: 49 });
        send({ type: 'event', event: { ...detection({ qname: 'after-gap.tiktokv.com' }), id: 50 } });
        socket.onMessage((text) => {
          sent.push(JSON.parse(String(text)));
          // Still in flight when the filter changed: chosen by the old filter, so not for the new one.
          send({ type: 'event', event: { ...detection({ qname: 'in-flight.tiktokv.com', action: 'monitor' }), id: 51 } });
          send({ type: 'filter', filter: { action: ['block'] } });
          send({ type: 'event', event: { ...detection({ qname: 'after-filter.tiktokv.com', action: 'block' }), id: 52 } });
        });
      }
    });
    await signIn(page);
    await rowFor(page, 'after-gap.tiktokv.com').waitFor({ timeout: WAIT_MS });
    expect(new URL(urls[0]!).searchParams.get('backlog')).not.toBeNull();
    expect(new URL(urls[1]!).searchParams.get('since')).toBe('42');
    // The repeated event is shown once.
    expect(await rowFor(page, 'before-42.tiktokv.com').count()).toBe(1);
    expect(await page.locator('#events tr.gap').textContent()).toBe('7 events missed here');
    expect(await page.locator('#notice').textContent()).toContain('7 events were not delivered');

    await applyFilter(page, async (p) => {
      await p.getByLabel('block', { exact: true }).check();
    });
    await rowFor(page, 'after-filter.tiktokv.com').waitFor({ timeout: WAIT_MS });
    expect(sent).toEqual([{ type: 'filter', action: ['block'] }]);
    expect(await rowFor(page, 'in-flight.tiktokv.com').count()).toBe(0);
    expect(await rowFor(page, 'after-gap.tiktokv.com').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('lays out sensibly in light and dark (screenshots for review)', async () => {
    const now = Date.now();
    const stats = {
      window: '24h',
      since: now - 86_400_000,
      until: now,
      kinds: { detection: 3412, residual: 88, bypass: 14, query: 0 },
      top_apps: [
        { id: 'tiktok', name: 'TikTok', count: 1834 },
        { id: 'wechat', name: 'WeChat', count: 622 },
        { id: 'temu', name: 'Temu', count: 301 },
      ],
      top_devices: [
        { client: '10.64.3.7', count: 911 },
        { client: '10.64.8.21', count: 402 },
      ],
      top_owner_countries: [
        { country: 'CN', count: 2757 },
        { country: 'RU', count: 140 },
      ],
      top_hosting_countries: [
        { country: 'US', count: 1900 },
        { country: 'SG', count: 700 },
        { country: 'RU', count: 130 },
      ],
      actions: { allow: 0, monitor: 2400, block: 497, exempt: 12 },
      actions_per_hour: Array.from({ length: 24 }, (_, hour) => ({
        start: Math.floor(now / 3_600_000) * 3_600_000 - (23 - hour) * 3_600_000,
        allow: 0,
        monitor: 60 + ((hour * 53) % 90),
        block: (hour * 37) % 50,
        exempt: hour % 5,
      })),
    };
    const inventory = {
      client: 'ipad-12',
      apps: [
        { id: 'wechat', name: 'WeChat', owner: 'Tencent Holdings Ltd.', owner_country: 'CN', first_seen: now - 5 * 86_400_000, last_seen: now - 60_000, count: 211 },
        { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN', first_seen: now - 2 * 86_400_000, last_seen: now - 3_600_000, count: 37 },
      ],
    };
    // A laptop in light mode (side panels below the table) and a SOC wall screen in dark mode.
    for (const [scheme, width, height] of [['light', 1440, 900], ['dark', 1920, 1080]] as const) {
      const { page, problems } = await open({ colorScheme: scheme, width, height });
      // This app keeps no history: the panels get answers in the API's shape instead.
      await page.route('**/api/stats*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(stats) }));
      const addresses = {
        client: 'ipad-12',
        addresses: [
          { address: '10.64.8.21', first_seen: now - 86_400_000, last_seen: now - 60_000, count: 180 },
          { address: '10.64.3.7', first_seen: now - 5 * 86_400_000, last_seen: now - 2 * 86_400_000, count: 68 },
        ],
      };
      const exposure = {
        days: 7,
        since: now - 7 * 86_400_000,
        until: now,
        previous_since: now - 14 * 86_400_000,
        groups: [
          {
            group: 'fiod',
            organisation: 'Belastingdienst',
            devices: 120,
            devices_watchlisted: 14,
            queries: { allow: 9000, monitor: 0, block: 310, exempt: 45 },
            queries_watchlisted: 355,
            top_apps: [{ id: 'tiktok', name: 'TikTok', owner_country: 'CN', devices: 9, queries: 200 }],
            previous: { devices: 118, devices_watchlisted: 20, queries: { allow: 8800, monitor: 0, block: 500, exempt: 92 }, queries_watchlisted: 592 },
          },
          { group: null, organisation: null, devices: 3, devices_watchlisted: 0, queries: { allow: 40, monitor: 0, block: 0, exempt: 0 }, queries_watchlisted: 0, top_apps: [], previous: { devices: 0, devices_watchlisted: 0, queries: { allow: 0, monitor: 0, block: 0, exempt: 0 }, queries_watchlisted: 0 } },
        ],
      };
      await page.route('**/api/exposure*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(exposure) }));
      await page.route('**/api/devices/**', (route) =>
        route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(route.request().url().endsWith('/addresses') ? addresses : inventory) }),
      );
      await signIn(page);
      await waitLive(page);
      await page.locator('#stats-body').waitFor({ timeout: WAIT_MS });
      const samples: Partial<DetectionEvent>[] = [
        { qname: 'api16-normal-c-useast1a.tiktokv.com', action: 'block', count: 14 },
        { qname: 'ru-hosted.example', app: null, owner_watchlisted: false, hosting: [{ ip: '77.88.8.8', country: 'RU', asn: 13238, org: 'YANDEX LLC' }], hosting_watchlisted: true, action: 'monitor', rule: 'hosting-country:RU' },
        { qname: 'dns.weixin.qq.com', app: { id: 'wechat', name: 'WeChat', owner: 'Tencent', owner_country: 'CN' }, action: 'exempt', rule: null, exemption: 'case 2024-117', client: '10.64.8.21', device: 'ipad-12', group: 'fiod', cached: true },
        { qname: 'www.rijksoverheid.nl', app: null, owner_watchlisted: false, hosting: [{ ip: '192.0.2.80', country: 'NL', asn: 64501, org: 'Overheid' }], action: 'allow', rule: null, kind: 'query', qtype: 'AAAA' },
        { qname: 'doh.example.net', app: null, owner_watchlisted: false, action: 'monitor', kind: 'bypass', rcode: 'NXDOMAIN', rule: 'bypass' },
      ];
      for (let i = 0; i < 30; i++) hub.publish(detection({ ...samples[i % samples.length], latency_ms: (i * 7.3) % 40 }));
      await page.locator('#stats-apps li').first().waitFor({ timeout: WAIT_MS });
      await page.locator('#exposure-table').waitFor({ timeout: WAIT_MS });
      type Row = { cells: ArrayLike<{ textContent: string | null }> };
      const exposureRows = await page.locator('#exposure-table tbody tr').evaluateAll((rows) => rows.map((row) => Array.from((row as unknown as Row).cells, (cell) => cell.textContent)));
      expect(exposureRows).toEqual([
        ['fiod (Belastingdienst)', '120', '14', '310', '45', 'down 40 %'],
        ['no group', '3', '0', '0', '0', 'none either period'],
      ]);
      expect(await page.locator('#exposure-table tbody tr').first().locator('td').nth(1).getAttribute('title')).toBe('TikTok (CN): 9 devices');
      if (scheme === 'light') {
        // The printable report for a manager's memo, in the same session.
        await page.getByLabel('Period').selectOption('30');
        expect(await page.locator('#exposure-report').getAttribute('href')).toBe('/dashboard/report.html?days=30');
        const report = await page.context().newPage();
        const reportProblems: string[] = [];
        report.on('pageerror', (error) => reportProblems.push(error.message));
        report.on('console', (message) => message.text().includes('Content Security Policy') && reportProblems.push(message.text()));
        let asked = '';
        await report.route('**/api/exposure*', (route) => {
          asked = new URL(route.request().url()).search;
          return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...exposure, days: 30 }) });
        });
        await report.goto(`${base}/dashboard/report.html?days=30`);
        await report.locator('#report-body').waitFor({ timeout: WAIT_MS });
        expect(asked).toBe('?days=30');
        expect(await report.locator('h1').textContent()).toBe('Exposure to apps of watch-listed owners, last 30 days');
        expect(await report.locator('#summary').textContent()).toMatch(/^14 of 123 devices used apps of watch-listed owners; 310 such queries were blocked and 45 exempted\. Watch-listed queries: 355, down 40 % against the period before \(592\)\.$/);
        const reportRows = await report.locator('#report-groups tbody tr').evaluateAll((rows) => rows.map((row) => Array.from((row as unknown as Row).cells, (cell) => cell.textContent)));
        expect(reportRows).toEqual([
          ['fiod', 'Belastingdienst', '120', '14', '310', '45', '355', '592', 'down 40 %', 'TikTok (CN): 9'],
          ['no group', '', '3', '0', '0', '0', '0', '0', 'none either period', 'none'],
        ]);
        const pdf = await report.pdf({ format: 'A4', landscape: true });
        expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
        await screenshot(report, 'exposure-report');
        expect(reportProblems).toEqual([]);
        await report.close();
      }
      await page.waitForFunction("document.querySelectorAll('#events tbody tr').length >= 30", null, { timeout: WAIT_MS });
      await rowFor(page, 'dns.weixin.qq.com').first().getByRole('button').click();
      await page.locator('#device-apps').waitFor({ timeout: WAIT_MS });
      expect(await page.locator('#device-apps tbody tr').count()).toBe(2);
      // An identified device is shown by its id, with the addresses it asked from.
      expect(await rowFor(page, 'dns.weixin.qq.com').first().getByRole('button').getAttribute('title')).toBe('ipad-12 at 10.64.8.21');
      await page.locator('#device-addresses').waitFor({ timeout: WAIT_MS });
      expect(await page.locator('#device-addresses caption').textContent()).toBe('Addresses ipad-12 asked from');
      expect(await page.locator('#device-addresses tbody tr td:first-child').allTextContents()).toEqual(['10.64.8.21', '10.64.3.7']);
      await screenshot(page, `dashboard-${scheme}-${width}`);
      expect(problems).toEqual([]);
    }
  });
});

describe('end to end: wachtpost serve, Knot upstream, dig and the dashboard', () => {
  let knot: KnotServer;
  let served: ServedProcess | undefined;
  let dir: string;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wachtpost-dashboard-'));
    knot = await startKnot();
    const config = join(dir, 'wachtpost.yaml');
    await writeFile(
      config,
      [`history:`, `  path: ${join(dir, 'history.sqlite')}`, `events:`, `  all_queries: true`, `detection:`, `  local_rules: ${join(dir, 'local-rules.yaml')}`, ''].join('\n'),
    );
    served = await spawnWachtpost(['--config', config, '--upstream', `127.0.0.1:${knot.port}`, '--workers', '1'], { WACHTPOST_ADMIN_TOKEN: TOKEN });
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    if (served !== undefined && served.child.exitCode === null) {
      served.child.kill('SIGTERM');
      await served.exited;
    }
    await knot?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('shows a dig for an app backend live, and hides what the filter excludes', async () => {
    const { context, page, problems } = await openPage(browser, `http://127.0.0.1:${served!.httpPort}`);
    try {
      await signIn(page);
      await waitLive(page);
      const dns = { host: '127.0.0.1', port: served!.port };

      expect((await dig(dns, 'api16-normal-c-useast1a.tiktokv.com', 'A')).status).toBe('NOERROR');
      const tiktok = rowFor(page, 'api16-normal-c-useast1a.tiktokv.com').first();
      await tiktok.waitFor({ timeout: WAIT_MS });
      expect(await tiktok.locator('td').nth(5).textContent()).toBe('TikTok (CN)');

      await applyFilter(page, async (p) => {
        await p.locator('#filter').getByLabel('Hosting country', { exact: true }).fill('ru');
      });
      await tiktok.waitFor({ state: 'detached', timeout: WAIT_MS });
      expect((await dig(dns, 'nl-edge.tiktokv.com', 'A')).status).toBe('NOERROR');
      expect((await dig(dns, 'ru-hosted.test.wachtpost', 'A')).status).toBe('NOERROR');
      // Events arrive in order: once the later, matching one shows, the earlier one was dropped.
      const ruHosted = rowFor(page, 'ru-hosted.test.wachtpost').first();
      await ruHosted.waitFor({ timeout: WAIT_MS });
      expect(await rowFor(page, 'nl-edge.tiktokv.com').count()).toBe(0);
      expect(await rowFor(page, 'api16-normal-c-useast1a.tiktokv.com').count()).toBe(0);
      expect(await ruHosted.locator('td').nth(6).textContent()).toMatch(/^RU AS\d+/);

      // The download holds what the filter selects, read from the history (written moments after the feed shows it).
      const download = async (): Promise<Record<string, string>[]> => {
        const [file] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
        return parse(await readFile((await file.path())!, 'utf8'), { columns: true }) as Record<string, string>[];
      };
      let rows = await download();
      for (const deadline = Date.now() + WAIT_MS; !rows.some((row) => row.qname === 'ru-hosted.test.wachtpost') && Date.now() < deadline; rows = await download()) {
        await page.waitForTimeout(200);
      }
      expect(rows.some((row) => row.qname === 'ru-hosted.test.wachtpost')).toBe(true);
      expect(rows.every((row) => (row.hosting_countries ?? '').split(' ').includes('RU'))).toBe(true);
      expect(await page.locator('#export-csv').getAttribute('href')).toBe('/api/events.csv?hosting_country=RU&limit=100000');

      // The panels read the history the same process writes.
      await ruHosted.getByRole('button', { name: '127.0.0.1' }).click();
      await page.locator('#device-apps tbody tr', { hasText: 'TikTok' }).waitFor({ timeout: WAIT_MS });
      await page.getByLabel('Window').selectOption('1h');
      await page.locator('#stats-apps li', { hasText: 'TikTok' }).waitFor({ timeout: WAIT_MS });

      // The history: a name finds itself and the names below it; an app in a row narrows to it;
      // a time range can exclude everything.
      const history = page.locator('#history');
      await history.locator('input[name="qname"]').fill('tiktokv.com');
      await history.getByRole('button', { name: 'Search', exact: true }).click();
      await history.locator('tbody tr', { hasText: 'nl-edge.tiktokv.com' }).waitFor({ timeout: WAIT_MS });
      const names = await history.locator('tbody tr td:nth-child(4)').allTextContents();
      expect(names).toEqual(expect.arrayContaining(['api16-normal-c-useast1a.tiktokv.com', 'nl-edge.tiktokv.com']));
      expect(names.every((name) => name.endsWith('.tiktokv.com'))).toBe(true);
      await history.locator('tbody tr', { hasText: 'api16-normal-c-useast1a.tiktokv.com' }).first().getByRole('button', { name: 'Search the history of TikTok' }).click();
      expect(await history.locator('input[name="app"]').inputValue()).toBe('tiktok');
      await history.locator('#history-status', { hasText: 'stored events shown' }).waitFor({ timeout: WAIT_MS });
      expect(new Set(await history.locator('tbody tr td:nth-child(5)').allTextContents())).toEqual(new Set(['TikTok (CN)']));
      await history.locator('input[name="since"]').fill('2099-01-01T00:00:00');
      await history.getByRole('button', { name: 'Search', exact: true }).click();
      await history.locator('#history-status', { hasText: 'No stored events match.' }).waitFor({ timeout: WAIT_MS });
      expect(await history.locator('#history-table').isHidden()).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('lists discovery candidates with their evidence, promotes one into a rule the server then applies, and dismisses another', async () => {
    const { context, page, problems } = await openPage(browser, `http://127.0.0.1:${served!.httpPort}`);
    try {
      await signIn(page);
      await waitLive(page);
      const dns = { host: '127.0.0.1', port: served!.port };
      expect((await dig(dns, 'api16-normal-c-useast1a.tiktokv.com', 'AAAA')).status).toBe('NOERROR');
      expect((await dig(dns, 'mail.test.wachtpost', 'A')).status).toBe('NOERROR');
      expect((await dig(dns, 'cn-hosted.test.wachtpost', 'A')).status).toBe('NOERROR');

      // Workers report once a second: refresh until both are listed.
      const item = (name: string) => page.locator(`#discovery-list li[data-name="${name}"]`);
      const deadline = Date.now() + WAIT_MS;
      while ((await item('mail.test.wachtpost').count()) === 0 || (await item('cn-hosted.test.wachtpost').count()) === 0) {
        if (Date.now() > deadline) throw new Error('the candidates were never listed');
        await page.getByRole('button', { name: 'Refresh' }).click();
        await page.waitForTimeout(300);
      }
      expect(await item('mail.test.wachtpost').locator('.evidence').textContent()).toMatch(/^asked after tiktok ×\d+$/);
      expect(await item('cn-hosted.test.wachtpost').locator('.evidence').textContent()).toMatch(/^hosted in CN \(AS4847\)/);

      // The app it followed is offered; an administrator adds a reason and promotes it.
      expect(await page.getByLabel('App id for mail.test.wachtpost').inputValue()).toBe('tiktok');
      await page.getByLabel('Reason for promoting mail.test.wachtpost').fill('INC-9: seen with TikTok');
      await item('mail.test.wachtpost').getByRole('button', { name: 'Promote' }).click();
      await page.locator('#discovery-status', { hasText: 'mail.test.wachtpost is now a rule of tiktok' }).waitFor({ timeout: WAIT_MS });
      await item('mail.test.wachtpost').waitFor({ state: 'detached', timeout: WAIT_MS });

      await item('cn-hosted.test.wachtpost').getByRole('button', { name: 'Dismiss' }).click();
      await page.locator('#discovery-status', { hasText: 'cn-hosted.test.wachtpost dismissed.' }).waitFor({ timeout: WAIT_MS });
      expect(await item('cn-hosted.test.wachtpost').count()).toBe(0);

      // Once the worker has reloaded the local rules, the name is TikTok's in the live table.
      const tagged = page.locator('#events tbody tr', { has: page.locator('td:nth-child(4)', { hasText: 'mail.test.wachtpost' }) }).filter({ hasText: 'TikTok (CN)' });
      while ((await tagged.count()) === 0) {
        if (Date.now() > deadline + WAIT_MS) throw new Error('the promoted name was never tagged');
        await dig(dns, 'mail.test.wachtpost', 'A');
        await page.waitForTimeout(300);
      }
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);
});
