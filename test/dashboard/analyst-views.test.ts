import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWachtpost, stopServed, type ServedProcess } from '../integration/harness.js';
import { axeScan, launch, openPage, screenshot, signIn, WAIT_MS, waitLive } from '../support/dashboard-page.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';

// The analyst's views against a real `wachtpost serve` with history, a Knot upstream and dig:
// charts, drill-down, the device page, the history search, one clock, the layout at 1280 px,
// and a sign-in that survives a restart.

const TOKEN = 'analyst-views-admin-token-0123456789';
const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
/** What the phone (127.0.0.2, mapped to phone-7) and an unmapped client (127.0.0.1) ask. */
const TRAFFIC: readonly [source: string, name: string][] = [
  ['127.0.0.2', TIKTOK],
  ['127.0.0.2', 'nl-edge.tiktokv.com'],
  ['127.0.0.2', 'ru-hosted.test.wachtpost'],
  ['127.0.0.2', 'nl-hosted.test.wachtpost'],
  ['127.0.0.1', 'cn-hosted.test.wachtpost'],
  ['127.0.0.1', 'nl-hosted.test.wachtpost'],
];

type Cells = { cells: ArrayLike<{ textContent: string | null }> };

describe('the analyst views of a served node with history', { timeout: 90_000 }, () => {
  let knot: KnotServer;
  let served: ServedProcess;
  let dir: string;
  let config: string;
  let browser: Browser;
  const base = () => `http://127.0.0.1:${served.httpPort}`;
  const start = () => spawnWachtpost(['--config', config, '--upstream', `127.0.0.1:${knot.port}`, '--workers', '1'], { WACHTPOST_ADMIN_TOKEN: TOKEN });

  /** Stored events, by the API (the history is written moments after the feed shows an event). */
  async function stored(query = ''): Promise<{ qname: string }[]> {
    const response = await fetch(`${base()}/api/events?limit=500${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await response.json()) as { events: { qname: string }[] }).events;
  }

  async function waitStored(count: number): Promise<void> {
    for (const deadline = Date.now() + WAIT_MS; (await stored()).length < count; ) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} events were stored`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function signedInPage(options: { width?: number; bypassCSP?: boolean; colorScheme?: 'light' | 'dark' } = {}) {
    const opened = await openPage(browser, base(), options);
    await signIn(opened.page, TOKEN);
    await waitLive(opened.page);
    return opened;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wachtpost-views-'));
    knot = await startKnot();
    config = join(dir, 'wachtpost.yaml');
    await writeFile(join(dir, 'devices.txt'), '127.0.0.2 phone-7\n');
    await writeFile(
      config,
      [
        `history: { path: ${join(dir, 'history.sqlite')} }`,
        'events: { all_queries: true, fold_window_ms: 0 }',
        `api: { session_keys_file: ${join(dir, 'session.keys')} }`,
        `identity: { static_map: ${join(dir, 'devices.txt')} }`,
        'policy:',
        '  groups:',
        '    - { name: inspectie, organisation: NVWA, cidrs: ["127.0.0.0/8"], mode: enforce }',
        '',
      ].join('\n'),
    );
    served = await start();
    for (const [source, name] of TRAFFIC) await dig({ host: '127.0.0.1', port: served.port }, name, 'A', { extra: ['-b', source] });
    await waitStored(TRAFFIC.length);
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    if (served?.child.exitCode === null) await stopServed(served);
    await knot?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('charts queries per action over time with a title, labelled axes, a legend and a spoken summary, and counts exposure from the same traffic', async () => {
    const { context, page, problems } = await signedInPage();
    try {
      const chart = page.locator('#stats-chart');
      await chart.locator('.u-title').waitFor({ timeout: WAIT_MS });
      expect(await chart.locator('.u-title').textContent()).toBe('Queries per hour by action');
      expect(await chart.locator('.axis-label').allTextContents()).toEqual(['Queries per hour', "Hour (this computer's time)"]);
      expect(await chart.locator('.u-legend .u-series th').allTextContents()).toEqual(expect.arrayContaining(['Allowed', 'Monitored', 'Blocked', 'Exempted']));
      // What the test generated: two TikTok names blocked (enforce), the other four allowed
      // (answers hosted in a watch-listed country are tagged, not blocked, by default).
      expect(await chart.getByRole('img').getAttribute('aria-label')).toMatch(/^Queries per hour by action, .+: allowed 4, monitored 0, blocked 2, exempted 0$/);
      // The figures for screen readers: this hour, with every query of the test.
      const table = chart.locator('table.visually-hidden');
      expect(await table.locator('thead th').allTextContents()).toEqual(['Hour', 'Allowed', 'Monitored', 'Blocked', 'Exempted']);
      const rows = await table.locator('tbody tr').evaluateAll((list) => list.map((row) => Array.from((row as unknown as Cells).cells, (cell) => cell.textContent)));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.slice(1)).toEqual(['4', '0', '2', '0']);
      expect(rows[0]![0]).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:00$/);
      // The exposure panel counts the same traffic: two devices in the group, one of them
      // (phone-7) with a watch-listed app, its two queries blocked.
      await page.locator('#exposure-table tbody tr').first().waitFor({ timeout: WAIT_MS });
      const exposure = await page.locator('#exposure-table tbody tr').evaluateAll((list) => list.map((row) => Array.from((row as unknown as Cells).cells, (cell) => cell.textContent)));
      expect(exposure).toEqual([['inspectie (NVWA)', '2', '1', '2', '0', 'new this period']]);
      await screenshot(page, 'statistics-chart');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('drills from the statistics into the history: an app, an owner country, a hosting country, an hour', async () => {
    const { context, page, problems } = await signedInPage();
    try {
      const history = page.locator('#history');
      const names = () => history.locator('tbody tr td:nth-child(4)').allTextContents();
      const searched = async () => history.locator('#history-status', { hasText: 'stored events shown' }).waitFor({ timeout: WAIT_MS });

      await page.locator('#stats-apps').getByRole('button', { name: 'TikTok: search the history' }).click();
      await searched();
      expect(await history.locator('input[name="app"]').inputValue()).toBe('tiktok');
      expect(new Set(await names())).toEqual(new Set([TIKTOK, 'nl-edge.tiktokv.com']));

      await page.locator('#stats-hosting').getByRole('button', { name: /^RU: / }).click();
      await history.locator('tbody tr', { hasText: 'ru-hosted.test.wachtpost' }).waitFor({ timeout: WAIT_MS });
      // A drill-down from the statistics asks afresh: the app is no longer part of it.
      expect(await history.locator('input[name="app"]').inputValue()).toBe('');
      expect(await names()).toEqual(['ru-hosted.test.wachtpost']);

      await page.locator('#stats-owners').getByRole('button', { name: /^CN: / }).click();
      await history.locator('tbody tr', { hasText: TIKTOK }).waitFor({ timeout: WAIT_MS });
      expect(new Set(await names())).toEqual(new Set([TIKTOK, 'nl-edge.tiktokv.com']));

      // The newest hour of the chart: its stored events, with the range in the form.
      const over = page.locator('#stats-chart .u-over');
      const box = (await over.boundingBox())!;
      await over.click({ position: { x: box.width - 1, y: box.height / 2 } });
      await history.locator('tbody tr', { hasText: 'cn-hosted.test.wachtpost' }).waitFor({ timeout: WAIT_MS });
      const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
      const since = await history.locator('input[name="since"]').inputValue();
      expect(new Date(since).getTime()).toBe(hour);
      expect(new Set(await names())).toEqual(new Set(TRAFFIC.map(([, name]) => name)));
      await screenshot(page, 'history-drill-down');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('searches the history by group, owner country and hosting country, and refuses a malformed country', async () => {
    const { context, page, problems } = await signedInPage();
    try {
      const history = page.locator('#history');
      const search = async (fields: Record<string, string>) => {
        for (const [name, value] of Object.entries({ group: '', owner_country: '', hosting_country: '', ...fields })) {
          await history.locator(`input[name="${name}"]`).fill(value);
        }
        await history.getByRole('button', { name: 'Search', exact: true }).click();
      };
      await search({ group: 'inspectie', hosting_country: 'nl' });
      await history.locator('#history-status', { hasText: '2 stored events shown' }).waitFor({ timeout: WAIT_MS });
      expect(await history.locator('tbody tr td:nth-child(4)').allTextContents()).toEqual(['nl-hosted.test.wachtpost', 'nl-hosted.test.wachtpost']);
      await search({ owner_country: 'cn', hosting_country: '' });
      await history.locator('#history-status', { hasText: '2 stored events shown' }).waitFor({ timeout: WAIT_MS });
      await search({ group: 'nobody' });
      await history.locator('#history-status', { hasText: 'No stored events match.' }).waitFor({ timeout: WAIT_MS });
      await search({ owner_country: 'C1' });
      await history.locator('#history-status', { hasText: 'Owner country: two letters, such as CN.' }).waitFor({ timeout: WAIT_MS });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows every time with its date in one clock, switchable between local and UTC', async () => {
    const { context, page, problems } = await signedInPage();
    try {
      const firstTime = page.locator('#events tbody tr td:first-child').first();
      await firstTime.waitFor({ timeout: WAIT_MS });
      const instant = Date.parse((await firstTime.getAttribute('title'))!);
      const utc = new Date(instant).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: 'UTC' });
      await page.getByLabel('Times in').selectOption('utc');
      expect(await firstTime.textContent()).toBe(utc);
      await page.locator('#stats-chart .axis-label', { hasText: 'Hour (UTC)' }).waitFor({ timeout: WAIT_MS });
      // The choice is remembered by this browser.
      await page.reload();
      await waitLive(page);
      expect(await page.getByLabel('Times in').inputValue()).toBe('utc');
      await page.getByLabel('Times in').selectOption('local');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('fits every column of the live table on a 1280 px screen, cutting no group, app, hosting or rule', async () => {
    const { context, page, problems } = await signedInPage({ width: 1280 });
    try {
      await page.locator('#events tbody tr').nth(TRAFFIC.length - 1).waitFor({ timeout: WAIT_MS });
      await page.locator('#exposure-table tbody tr').first().waitFor({ timeout: WAIT_MS });
      const overflow = await page.evaluate(`(() => {
        const scroll = document.querySelector('#live .scroll');
        const cut = [...document.querySelectorAll('#events th, #events td.wrap')].filter((cell) => cell.scrollWidth > cell.clientWidth + 1);
        const panels = [...document.querySelectorAll('.side .panel')].filter((panel) => panel.scrollWidth > panel.clientWidth + 1);
        return { sideways: scroll.scrollWidth - scroll.clientWidth, cut: cut.map((cell) => cell.textContent), panels: panels.map((panel) => panel.id) };
      })()`);
      expect(overflow).toEqual({ sideways: 0, cut: [], panels: [] });
      await screenshot(page, 'dashboard-1280');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("opens a device's page: identity, group, addresses, apps, its timeline and only its events", async () => {
    const { context, page, problems } = await signedInPage();
    try {
      await page.locator('#events tbody tr').getByRole('button', { name: 'phone-7' }).first().click();
      const link = page.getByRole('link', { name: 'Open the device page of phone-7' });
      await link.waitFor({ timeout: WAIT_MS });
      expect(await link.getAttribute('href')).toBe('/dashboard/device.html?device=phone-7');
      await page.goto(`${base()}/dashboard/device.html?device=phone-7`);
      await page.locator('#history-status', { hasText: 'stored events shown' }).waitFor({ timeout: WAIT_MS });
      expect(await page.locator('#identity-kind').textContent()).toMatch(/device id/);
      expect(await page.locator('#identity-group').textContent()).toBe('inspectie');
      expect(await page.locator('#identity-last').textContent()).toMatch(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2}$/);
      await page.locator('#device-addresses tbody tr').first().waitFor({ timeout: WAIT_MS });
      expect(await page.locator('#device-addresses tbody tr td:first-child').allTextContents()).toEqual(['127.0.0.2']);
      const apps = await page.locator('#device-apps tbody tr').evaluateAll((rows) => rows.map((row) => (row as unknown as Cells).cells[0]!.textContent));
      expect(apps).toEqual(['TikTok']);
      const timeline = page.locator('#timeline-chart');
      await timeline.locator('.u-title').waitFor({ timeout: WAIT_MS });
      expect(await timeline.locator('.u-title').textContent()).toBe('Queries per hour by action, phone-7');
      expect(await timeline.locator('.axis-label').allTextContents()).toEqual(['Queries per hour', "Hour (this computer's time)"]);
      expect(await timeline.getByRole('img').getAttribute('aria-label')).toMatch(/: allowed 2, monitored 0, blocked 2, exempted 0$/);
      const names = await page.locator('#history-table tbody tr td:nth-child(4)').allTextContents();
      expect(new Set(names)).toEqual(new Set(TRAFFIC.filter(([source]) => source === '127.0.0.2').map(([, name]) => name)));
      await screenshot(page, 'device-page');
      // An unknown device says so instead of failing.
      await page.goto(`${base()}/dashboard/device.html?device=nobody-here`);
      await page.locator('#identity-group', { hasText: 'unknown: no stored event' }).waitFor({ timeout: WAIT_MS });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('passes an axe-core scan (WCAG 2.1 A and AA) with charts drawn, on the dashboard and the device page, light and dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const { context, page } = await signedInPage({ bypassCSP: true, colorScheme });
      try {
        await page.locator('#stats-chart .u-title').waitFor({ timeout: WAIT_MS });
        await page.locator('#history-status', { hasText: 'stored events shown' }).waitFor({ timeout: WAIT_MS });
        const dashboard = await axeScan(page);
        expect(dashboard.passed).toBeGreaterThan(10);
        expect(dashboard.serious, `dashboard, ${colorScheme}`).toEqual([]);
        await page.goto(`${base()}/dashboard/device.html?device=phone-7`);
        await page.locator('#timeline-chart .u-title').waitFor({ timeout: WAIT_MS });
        await page.locator('#history-status', { hasText: 'stored events shown' }).waitFor({ timeout: WAIT_MS });
        const device = await axeScan(page);
        expect(device.passed).toBeGreaterThan(10);
        expect(device.serious, `device page, ${colorScheme}`).toEqual([]);
        if (colorScheme === 'dark') await screenshot(page, 'device-page-dark');
      } finally {
        await context.close();
      }
    }
  });

  it('sends a browser without a session from the device page to the sign-in', async () => {
    const { context, page, problems } = await openPage(browser, base(), {}, '/dashboard/device.html?device=phone-7');
    try {
      await page.locator('#page-note', { hasText: 'Not signed in' }).waitFor({ timeout: WAIT_MS });
      expect(await page.locator('#device-body').isHidden()).toBe(true);
      expect(await page.getByRole('link', { name: 'Sign in on the dashboard' }).getAttribute('href')).toBe('/');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  // Last: it restarts the server.
  it('keeps the sign-in across a restart, and the live table continues from the stored events', async () => {
    const { context, page, problems } = await signedInPage();
    try {
      await stopServed(served);
      served = await start();
      // A new port, the same host: the browser still holds its cookie.
      await page.goto(base());
      await waitLive(page);
      expect(await page.locator('#sign-in').isHidden()).toBe(true);
      const liveNames = () => page.locator('#events tbody tr td:nth-child(4)').allTextContents();
      await page.locator('#events tbody tr').nth(TRAFFIC.length - 1).waitFor({ timeout: WAIT_MS });
      expect(new Set(await liveNames())).toEqual(new Set(TRAFFIC.map(([, name]) => name)));
      // Stored events are shown, not counted as live queries.
      expect(await page.locator('#counters dd[data-action="allow"]').textContent()).toBe('0');
      await dig({ host: '127.0.0.1', port: served.port }, 'nl-hosted.test.wachtpost', 'AAAA', { extra: ['-b', '127.0.0.3'] });
      await page.locator('#counters dd[data-action="allow"]', { hasText: '1' }).waitFor({ timeout: WAIT_MS });
      expect((await liveNames())[0]).toBe('nl-hosted.test.wachtpost');
      expect(await page.locator('#events tbody tr').first().locator('td:nth-child(2)').textContent()).toBe('127.0.0.3');
      expect(await page.locator('#events tbody tr').count()).toBe(TRAFFIC.length + 1);
      await screenshot(page, 'live-after-restart');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
