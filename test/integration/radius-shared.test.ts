import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/http/auth.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { eventually } from '../support/served.js';
import { spawnWachtpost, type ServedProcess } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const SECRET = 'radius-secret-shared-by-redis-0123';
const ANALYST = 'analyst-token-0123456789abcdef';

let knot: KnotServer;
let redis: RedisServer;
let dir: string;
let radiusPort: number;
const served: ServedProcess[] = [];

beforeAll(async () => {
  [knot, redis] = await Promise.all([startKnot(), startRedis()]);
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-radius-shared-'));
  radiusPort = await freePort();
}, 30_000);
afterAll(async () => {
  for (const process of served) if (process.child.exitCode === null) process.child.kill('SIGKILL');
  await Promise.all([knot?.stop(), redis?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** An instance on the shared Redis: `a` receives accounting, `b` only follows it and keeps the history. */
async function instance(name: 'a' | 'b'): Promise<ServedProcess> {
  const file = join(dir, `${name}.yaml`);
  const identity = name === 'a' ? `listen: "127.0.0.1:${radiusPort}"` : 'follow: true';
  await writeFile(
    file,
    `instance: ${name}
mode: monitor
events: { fold_window_ms: 0 }
redis: { url: "${redis.url}" }
history: { path: "${name === 'b' ? join(dir, 'b.sqlite') : ''}" }
api:
  tokens: [{ name: soc, role: analyst, sha256: ${sha256Hex(ANALYST)} }]
identity:
  radius: { ${identity} }
`,
  );
  const process = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${knot.port}`, '--workers', '1'], { WACHTPOST_RADIUS_SECRET: SECRET });
  served.push(process);
  return process;
}

function radclient(status: string, address: string, user: string): Promise<number | null> {
  const child = spawn('radclient', ['-r', '1', '-t', '1', `127.0.0.1:${radiusPort}`, 'acct', SECRET], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.end(`Acct-Status-Type = ${status}\nUser-Name = "${user}"\nFramed-IP-Address = ${address}\nAcct-Session-Id = "${user}"\n`);
  return new Promise((resolve) => child.on('exit', resolve));
}

/** Asks `node` from `address` until the history (kept by b) stores the event with `device`. */
async function deviceSeenBy(node: ServedProcess, history: ServedProcess, address: string, device: string | null): Promise<boolean> {
  let seen = 0;
  return eventually(async () => {
    await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, 'A', { extra: ['-b', address] });
    const response = await fetch(`http://127.0.0.1:${history.httpPort}/api/events?client=${address}&limit=1`, { headers: { authorization: `Bearer ${ANALYST}` } });
    const [latest] = ((await response.json()) as { events: { id: number; device: string | null }[] }).events;
    if (latest === undefined || latest.id <= seen) return false;
    seen = latest.id;
    return latest.device === device;
  }, 10_000);
}

describe('VPN sessions shared by Redis', () => {
  let a: ServedProcess;
  let b: ServedProcess;

  it('reach an instance that starts after the session did, from what Redis keeps', async () => {
    a = await instance('a');
    expect(await radclient('Start', '127.0.0.31', 'phone-31')).toBe(0);
    b = await instance('b');
    expect(await deviceSeenBy(b, b, '127.0.0.31', 'phone-31')).toBe(true);
  }, 30_000);

  it('reach a running instance as they start and stop, and a session heard of by the instance itself still counts', async () => {
    expect(await radclient('Start', '127.0.0.32', 'phone-32')).toBe(0);
    expect(await deviceSeenBy(b, b, '127.0.0.32', 'phone-32')).toBe(true);
    expect(await deviceSeenBy(a, b, '127.0.0.32', 'phone-32')).toBe(true);
    expect(await radclient('Stop', '127.0.0.31', 'phone-31')).toBe(0);
    expect(await deviceSeenBy(b, b, '127.0.0.31', null)).toBe(true);
    expect(await deviceSeenBy(a, b, '127.0.0.31', null)).toBe(true);
  }, 30_000);

  it('survive Redis restarting empty: the receiving instance writes its sessions again', async () => {
    await redis.kill();
    await redis.start();
    expect(await radclient('Start', '127.0.0.33', 'phone-33')).toBe(0);
    expect(await deviceSeenBy(b, b, '127.0.0.33', 'phone-33')).toBe(true);
    // phone-32 was only in the Redis that is gone; a gave it again when it reconnected. A
    // restarted b has nothing but what Redis holds now.
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    b = await instance('b');
    expect(await deviceSeenBy(b, b, '127.0.0.32', 'phone-32')).toBe(true);
  }, 40_000);
});
