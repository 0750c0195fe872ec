import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/**
 * The assets stay in the source tree because tsc copies no non-TypeScript files. This module
 * sits two levels below the package root both as src/dashboard/*.ts and as dist/dashboard/*.js,
 * so one path resolves from either (the same way shipped-data.ts finds geo/).
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../src/dashboard/assets/', import.meta.url));

/**
 * Third-party files the pages load, served from the installed packages under
 * /dashboard/vendor/ (no CDN: the policy allows this server only).
 */
const VENDOR: Readonly<Record<string, string>> = {
  'vendor/uplot.js': 'uplot/dist/uPlot.esm.js',
  'vendor/uplot.css': 'uplot/dist/uPlot.min.css',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page holds no data and loads nothing foreign, so it can be locked down completely. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Revalidate every time so a new release is picked up at once; the ETag keeps that cheap.
  'cache-control': 'no-cache',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function asset(path: string): Asset {
  const body = readFileSync(path);
  return { body, type: CONTENT_TYPES[extname(path)]!, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) if (CONTENT_TYPES[extname(name)] !== undefined) assets.set(name, asset(join(dir, name)));
  if (!assets.has('index.html')) throw new Error(`dashboard assets missing: no index.html in ${dir}`);
  const require = createRequire(import.meta.url);
  for (const [name, path] of Object.entries(VENDOR)) assets.set(name, asset(require.resolve(path)));
  return assets;
}

function send(asset: Asset, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.headers(DASHBOARD_HEADERS).header('etag', asset.etag);
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

/**
 * The analysts' dashboard: `/` and its static files under `/dashboard/`, read once at start-up.
 * Public on purpose: the page carries no data, every figure comes from the authenticated API
 * and feed after sign-in. Missing files switch only the dashboard off (the feed and API go
 * on serving), with an error in the log and a 503 at `/`.
 */
export async function dashboardRoutes(app: FastifyInstance, { log, dir = DASHBOARD_DIR }: { log: Logger; dir?: string }): Promise<void> {
  let assets: Map<string, Asset>;
  try {
    assets = loadAssets(dir);
  } catch (error) {
    log.error({ err: error, dir }, 'dashboard files not found; the dashboard is off');
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.code(503).headers(DASHBOARD_HEADERS).type('text/plain; charset=utf-8').send('The dashboard is not installed on this node.\n'),
    );
    return;
  }
  const index = assets.get('index.html')!;
  app.get('/', { schema: { hide: true } }, async (request, reply) => send(index, request, reply));
  for (const [name, asset] of assets) {
    if (name === 'index.html') continue;
    app.get(`/dashboard/${name}`, { schema: { hide: true } }, async (request, reply) => send(asset, request, reply));
  }
}
