import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, rawQuery } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { encodeQuery } from '../support/packets.js';
import { sleep, spawnWachtpost, type ServedProcess } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
let knot: KnotServer;
let served: ServedProcess;
let file: string;

const config = (mode: string): string => `mode: ${mode}\nupstream: { servers: ["127.0.0.1:${knot.port}"] }\n`;

beforeAll(async () => {
  knot = await startKnot();
  file = join(await mkdtemp(join(tmpdir(), 'wachtpost-reload-')), 'wachtpost.yaml');
  await writeFile(file, config('monitor'));
  served = await spawnWachtpost(['--config', file, '--workers', '2']);
}, 30_000);

afterAll(async () => {
  served?.child.kill('SIGTERM');
  await served?.exited;
  await knot?.stop();
});

/** Polls until dig's status for TIKTOK is `status`, or gives up after `ms`. */
async function until(status: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = (await dig({ host: '127.0.0.1', port: served.port }, TIKTOK, 'A')).status;
    if (last === status) return last;
    await sleep(100);
  }
  return last;
}

/** A bounded stream of queries from 4 concurrent senders; resolves with how many got no reply. */
async function load(total: number): Promise<number> {
  let unanswered = 0;
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < total) {
      const id = next++;
      const reply = await rawQuery({ host: '127.0.0.1', port: served.port }, encodeQuery('a.test.wachtpost', 1, { id }), { timeoutMs: 2000 });
      if (reply === null || reply.readUInt16BE(0) !== id) unanswered++;
    }
  };
  await Promise.all([sender(), sender(), sender(), sender()]);
  return unanswered;
}

describe('hot reload (two workers)', () => {
  it('applies a new policy on SIGHUP, refuses a broken file, follows file changes, and loses no query', async () => {
    expect(await until('NOERROR', 3000)).toBe('NOERROR');
    const running = load(600);

    await writeFile(file, config('enforce'));
    served.child.kill('SIGHUP');
    expect(await until('NXDOMAIN', 5000)).toBe('NXDOMAIN');

    await writeFile(file, 'mode: [enforce\n');
    served.child.kill('SIGHUP');
    await sleep(800);
    expect(served.output()).toContain('reload refused; the running configuration stays');
    expect((await dig({ host: '127.0.0.1', port: served.port }, TIKTOK, 'A')).status).toBe('NXDOMAIN');

    // No signal this time: the workers notice the file change themselves.
    await writeFile(file, config('monitor'));
    expect(await until('NOERROR', 5000)).toBe('NOERROR');

    expect(await running).toBe(0);
  }, 60_000);
});
