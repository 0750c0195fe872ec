import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const WAIT_MS = 10_000;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** axe-core's browser build, injected into a page for an accessibility scan. */
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** Where the test run leaves its screenshots for review (ignored by git). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** Debian's Chromium, without any of its own network traffic. */
export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export interface PageOptions {
  colorScheme?: 'light' | 'dark';
  width?: number;
  height?: number;
  /** Lets a test inject a checker (axe-core) that the page's policy would refuse. */
  bypassCSP?: boolean;
}

/** A fresh browser context (own cookies) on `base` + `path`, collecting page errors and CSP reports. */
export async function openPage(browser: Browser, base: string, options: PageOptions = {}, path = '/') {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1440, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
    bypassCSP: options.bypassCSP ?? false,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  watchProblems(page, problems);
  await page.goto(base + path);
  return { context, page, problems };
}

/** Collects uncaught page errors and Content-Security-Policy refusals of `page` into `problems`. */
export function watchProblems(page: Page, problems: string[]): void {
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) problems.push(message.text());
  });
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// Page-side code is passed as text: the test program is type-checked without DOM types.
export async function waitLive(page: Page): Promise<void> {
  await page.locator('#status[data-state="live"]').waitFor({ timeout: WAIT_MS });
}

/** Saves a full-page screenshot of a view as test-output/screenshots/NAME.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.info(`screenshot ${name}: ${path}`);
  return path;
}

/**
 * Runs axe-core (WCAG 2.1 A and AA) on the page as it is now: the serious and critical
 * violations, and how many rules passed (so that an empty list can be told from a scan that
 * checked nothing). The page must have been opened with `bypassCSP`.
 */
export async function axeScan(page: Page): Promise<{ serious: string[]; passed: number }> {
  await page.addScriptTag({ path: AXE });
  return (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((result) => ({
       passed: result.passes.length,
       serious: result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
         .map((v) => v.id + ': ' + v.nodes.map((node) => node.target.join(' ')).join(', ')),
     }))`,
  )) as { serious: string[]; passed: number };
}
