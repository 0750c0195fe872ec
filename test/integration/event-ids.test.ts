import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/http/auth.js';
import { ID_BLOCK } from '../../src/events/id-store.js';
import { dig } from '../support/dig.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { sleep, spawnWachtpost } from './harness.js';

const TOKEN = 'event-ids-analyst-token-0123456789';

let upstream: ScriptedUpstream;
let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  [upstream, redis] = await Promise.all([startScriptedUpstream(), startRedis()]);
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-ids-'));
}, 20_000);
afterAll(async () => {
  await Promise.all([upstream?.stop(), redis?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/**
 * Starts `wachtpost serve`, queries `count` app names (one event each, repeats not folded),
 * collects the ids a feed client receives, then stops the primary with `signal`.
 */
async function run(file: string, prefix: string, count: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<number[]> {
  const served = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${upstream.port}`, '--workers', '1']);
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${served.httpPort}/feed`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const ids: number[] = [];
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; event?: { id: number } };
      if (message.type === 'event') ids.push(message.event!.id);
    });
    await new Promise((resolve) => socket.once('open', resolve));
    for (let i = 0; i < count; i++) await dig({ host: '127.0.0.1', port: served.port }, `${prefix}${i}.tiktokv.com`, 'A');
    const deadline = Date.now() + 10_000;
    while (ids.length < count && Date.now() < deadline) await sleep(20);
    socket.terminate();
    expect(ids).toHaveLength(count);
    return ids;
  } finally {
    served.child.kill(signal);
    await served.exited;
  }
}

async function configFile(name: string, settings: string, events = ''): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `${settings}\nevents: { fold_window_ms: 0${events} }\napi:\n  tokens: [{ name: soc, role: analyst, sha256: ${sha256Hex(TOKEN)} }]\n`);
  return file;
}

const reused = (earlier: number[], later: number[]): number[] => later.filter((id) => earlier.includes(id));

describe('event ids after kill -9 of the primary', () => {
  it('never repeat with history: a crash skips the rest of the reserved block, a graceful stop does not', async () => {
    const file = await configFile('history', `history: { path: "${join(dir, 'ids.sqlite')}" }`);
    const first = await run(file, 'first', 20, 'SIGKILL');
    const second = await run(file, 'second', 20, 'SIGTERM');
    const third = await run(file, 'third', 5, 'SIGTERM');
    expect(reused(first, second)).toEqual([]);
    expect(second[0]).toBe(ID_BLOCK + 1);
    expect(third[0]).toBe(second.at(-1)! + 1);
  }, 60_000);

  it('never repeat without history when events.id_file keeps the reservation', async () => {
    const file = await configFile('file', 'history: { path: "" }', `, id_file: "${join(dir, 'event-ids')}"`);
    const first = await run(file, 'first', 10, 'SIGKILL');
    const second = await run(file, 'second', 10, 'SIGKILL');
    expect(reused(first, second)).toEqual([]);
  }, 60_000);

  it('never repeat with Redis, whose counter numbers every instance', async () => {
    const file = await configFile('redis', `history: { path: "" }\nredis: { url: "${redis.url}", stream: "ids" }`);
    const first = await run(file, 'first', 10, 'SIGKILL');
    const second = await run(file, 'second', 10, 'SIGKILL');
    expect(reused(first, second)).toEqual([]);
    expect(second[0]).toBeGreaterThan(first.at(-1)!);
  }, 60_000);
});
