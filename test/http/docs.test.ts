import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { EventHub } from '../../src/events/event-hub.js';
import { DASHBOARD_HEADERS } from '../../src/dashboard/dashboard-routes.js';
import { FeedCounters } from '../../src/feed/feed-counters.js';
import { Authenticator, OriginPolicy } from '../../src/http/auth.js';
import { DOCS_CSP } from '../../src/http/docs-routes.js';
import { buildHttpApp } from '../../src/http/http-server.js';

let app: FastifyInstance;
let base: string;
let browser: Browser;

beforeAll(async () => {
  const config = loadConfig({ overrides: { upstream: ['127.0.0.1:5300'] } });
  app = await buildHttpApp({
    log: pino({ level: 'silent' }),
    health: { ready: () => true, degraded: () => [] },
    hub: new EventHub({ capacity: 1024, firstId: 1, residualWindowMs: 300_000, pseudonymiser: null }),
    history: null,
    auth: new Authenticator(config.api, { env: {} }),
    origins: new OriginPolicy([]),
    metrics: { contentType: 'text/plain', text: async () => '' },
    feed: { counters: new FeedCounters() },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('/docs', () => {
  it("carries the dashboard's security headers with its own policy, on the page and on Swagger UI's files", async () => {
    for (const path of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js', '/docs/json']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy'), path).toBe(DOCS_CSP);
      expect(response.headers.get('x-content-type-options'), path).toBe(DASHBOARD_HEADERS['x-content-type-options']);
      expect(response.headers.get('referrer-policy'), path).toBe(DASHBOARD_HEADERS['referrer-policy']);
    }
    expect(DOCS_CSP).not.toContain('unsafe');
  });

  it('renders in Chromium with no Content Security Policy violation, operations expanded', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (message) => {
        if (message.text().includes('Content Security Policy')) violations.push(message.text());
      });
      page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
      await page.goto(`${base}/docs`);
      await page.locator('.opblock-summary').first().waitFor({ timeout: 15_000 });
      expect(await page.locator('.opblock-summary').count()).toBeGreaterThan(5);
      // Opening an operation renders parameters, schemas and examples (highlighted code);
      // trying it out sends a request from the page (401 here: no token).
      await page.locator('.opblock-summary').first().click();
      await page.locator('.opblock-body').first().waitFor();
      await page.locator('.try-out__btn').first().click();
      await page.locator('.btn.execute').first().click();
      await page.locator('.live-responses-table td.response-col_status', { hasText: '401' }).first().waitFor();
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  }, 40_000);
});
