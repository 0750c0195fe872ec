import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/http/auth.js';
import { CLOSE_BOUND_MS } from '../../src/server/primary.js';
import { KILL_GRACE_MS } from '../../src/server/worker-pool.js';
import { dig } from '../support/dig.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { sleep, spawnWachtpost, type ServedProcess } from './harness.js';

const TOKEN = 'redis-outage-analyst-token-0123456789';
const DRAIN_MS = 500;

let upstream: ScriptedUpstream;
let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-outage-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await upstream?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function serveWithRedis(redis: RedisServer, name: string): Promise<ServedProcess> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `instance: ${name}
redis: { url: "${redis.url}", stream: "${name}" }
history: { path: "${join(dir, `${name}.sqlite`)}" }
dns: { drain_timeout_ms: ${DRAIN_MS} }
api:
  tokens: [{ name: soc, role: analyst, sha256: ${sha256Hex(TOKEN)} }]
`,
  );
  const served = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${upstream.port}`, '--workers', '1']);
  cleanups.push(() => {
    if (served.child.exitCode === null) served.child.kill('SIGKILL');
  });
  return served;
}

/** Queries app names, each a detection event of its own. */
async function detections(served: ServedProcess, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await dig({ host: '127.0.0.1', port: served.port }, `${prefix}${i}.tiktokv.com`, 'A');
}

async function storedNames(served: ServedProcess): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${served.httpPort}/api/events?limit=1000`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return ((await response.json()) as { events: { qname: string }[] }).events.map((event) => event.qname);
}

async function health(served: ServedProcess): Promise<{ status: string; reasons?: string[] }> {
  return (await fetch(`http://127.0.0.1:${served.httpPort}/health`)).json() as Promise<{ status: string }>;
}

async function until(test: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Something on Redis's port that accepts connections and never answers: a hung or half-dead Redis. */
async function silentListener(port: number): Promise<net.Server> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return server;
}

/**
 * A real redis-server and a `wachtpost serve` on it; `count` detections are stored, Redis is
 * killed and started again empty, and `count` more detections are sent and must be stored.
 */
async function throughEmptyRestart(name: string, count: number): Promise<{ redis: RedisServer; served: ServedProcess }> {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const served = await serveWithRedis(redis, name);
  await detections(served, 'before', count);
  await until(async () => (await storedNames(served)).length === count, 'the first events in the history');
  await redis.kill();
  await redis.start();
  await detections(served, 'after', count);
  await until(async () => (await storedNames(served)).filter((stored) => stored.startsWith('after')).length === count, 'the events after the restart in the history');
  return { redis, served };
}

describe('wachtpost serve when Redis restarts empty', () => {
  it('stores the events written after the restart and reports healthy again', async () => {
    const { served } = await throughEmptyRestart('restart', 5);
    await until(async () => (await health(served)).status === 'ok', 'the node to report healthy');
  }, 60_000);

  it('ends a SIGTERM within the bound when Redis then goes silent, saying what it could not hand over', async () => {
    const { redis, served } = await throughEmptyRestart('silent', 3);
    // Redis stops again, and its port now takes connections without ever answering.
    await redis.kill();
    await silentListener(redis.port);
    await detections(served, 'during', 3);
    served.child.kill('SIGTERM');
    const boundMs = DRAIN_MS + KILL_GRACE_MS + CLOSE_BOUND_MS;
    const code = await Promise.race([served.exited, sleep(2 * boundMs).then(() => 'still running')]);
    expect(code).toBe(0);
    expect(served.output()).toMatch(/"events":3,.*"msg":"events not handed to Redis before shutdown are lost"/);
    expect(served.output()).toContain('"msg":"stopped"');
  }, 60_000);
});

describe('a second signal during shutdown', () => {
  it('exits at once with code 1, saying so', async () => {
    upstream.setBehaviour({ delayMs: 3000 });
    try {
      const file = join(dir, 'second.yaml');
      await writeFile(file, `history: { path: "" }\ndns: { drain_timeout_ms: 20000 }\n`);
      const served = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${upstream.port}`, '--workers', '1']);
      cleanups.push(() => {
        if (served.child.exitCode === null) served.child.kill('SIGKILL');
      });
      // A query in flight keeps the worker draining for seconds.
      const inFlight = dig({ host: '127.0.0.1', port: served.port }, 'slow.test.wachtpost', 'A', { timeoutSeconds: 5 });
      await sleep(300);
      served.child.kill('SIGTERM');
      await until(async () => served.output().includes('draining workers'), 'the shutdown to start', 5000);
      served.child.kill('SIGTERM');
      expect(await served.exited).toBe(1);
      expect(served.output()).toMatch(/"signal":"SIGTERM","stage":"draining workers","msg":"second signal during shutdown: exiting at once"/);
      await inFlight;
    } finally {
      upstream.setBehaviour('answer');
    }
  }, 30_000);
});
