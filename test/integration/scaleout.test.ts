import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sha256Hex } from '../../src/http/auth.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { udpLoad } from '../support/udp-load.js';
import { sleep, spawnWachtpost, type ServedProcess } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const TOKEN = 'scale-out-analyst-token-0123456789';

let knot: KnotServer;
let redis: RedisServer;
let dir: string;
const served: ServedProcess[] = [];

beforeAll(async () => {
  [knot, redis] = await Promise.all([startKnot(), startRedis()]);
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-scale-'));
}, 30_000);
afterAll(async () => {
  for (const process of served) if (process.child.exitCode === null) process.child.kill('SIGKILL');
  await Promise.all([knot?.stop(), redis?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function configText(name: string, mode: 'monitor' | 'enforce', history: boolean): string {
  return `instance: ${name}
mode: ${mode}
redis: { url: "${redis.url}" }
history: { path: "${history ? join(dir, `${name}.sqlite`) : ''}" }
api:
  tokens: [{ name: soc, role: analyst, sha256: ${sha256Hex(TOKEN)} }]
`;
}

async function instance(name: string, history: boolean): Promise<{ process: ServedProcess; file: string }> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, configText(name, 'monitor', history));
  const process = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${knot.port}`, '--workers', '1']);
  served.push(process);
  return { process, file };
}

async function until(test: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('two instances joined by Redis', () => {
  let a: { process: ServedProcess; file: string };
  let b: { process: ServedProcess; file: string };
  beforeAll(async () => {
    a = await instance('dc1-a', true);
    b = await instance('dc2-b', false);
  }, 40_000);

  it("shows instance B's detections in instance A's feed, tagged with B's name", async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${a.process.httpPort}/feed`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const events: { instance: string; qname: string }[] = [];
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; event?: { instance: string; qname: string } };
      if (message.type === 'event') events.push(message.event!);
    });
    await new Promise((resolve) => socket.once('open', resolve));
    await dig({ host: '127.0.0.1', port: b.process.port }, TIKTOK, 'A');
    await dig({ host: '127.0.0.1', port: a.process.port }, TIKTOK, 'AAAA');
    await until(() => events.length >= 2, 'both events in the feed');
    expect(events.map((event) => event.instance).sort()).toEqual(['dc1-a', 'dc2-b']);
    socket.close();
    // History lives on A only, and holds B's event too (written once, by the consumer group).
    await until(async () => {
      const page = (await (await fetch(`http://127.0.0.1:${a.process.httpPort}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        events: { instance: string }[];
      };
      return page.events.some((event) => event.instance === 'dc2-b');
    }, "B's event in A's history");
  }, 30_000);

  it('carries a policy change made on one instance to the other', async () => {
    expect((await dig({ host: '127.0.0.1', port: b.process.port }, TIKTOK, 'A')).status).toBe('NOERROR');
    await writeFile(a.file, configText('dc1-a', 'enforce', true));
    await until(async () => (await dig({ host: '127.0.0.1', port: b.process.port }, TIKTOK, 'A')).status === 'NXDOMAIN', 'B to enforce', 15_000);
    expect(b.process.output()).toContain('policy shared by another instance applied');
  }, 30_000);

  it('answers every DNS query while Redis is killed and brought back, then reports healthy again', async () => {
    // An app's name: every answer is also an event, which must wait in the buffer meanwhile.
    const query = encodeQuery(TIKTOK, TYPE.A, { edns: { udp: 1232 } });
    const load = udpLoad({ host: '127.0.0.1', port: b.process.port }, query, 4000, 16, 30_000);
    await sleep(100);
    await redis.kill();
    const health = async () => (await (await fetch(`http://127.0.0.1:${b.process.httpPort}/health`)).json()) as { status: string };
    await until(async () => (await health()).status === 'degraded', 'B to report itself degraded');
    // A feed client connecting now is told the feed may be incomplete.
    const socket = new WebSocket(`ws://127.0.0.1:${b.process.httpPort}/feed`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const hello = await new Promise<{ type: string; degraded: string[] }>((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)))));
    expect(hello.type).toBe('hello');
    expect(hello.degraded.join()).toMatch(/redis unreachable/);
    socket.close();
    const result = await load;
    expect(result.answered).toBe(result.sent);
    expect(result.sent).toBe(4000);
    await redis.start();
    await until(async () => (await health()).status === 'ok', 'B to recover', 20_000);
  }, 60_000);
});
