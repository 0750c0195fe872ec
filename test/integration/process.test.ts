import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { dig } from '../support/dig.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { sleep, spawnWachtpost, type ServedProcess } from './harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
let up: Awaited<ReturnType<typeof startScriptedUpstream>>;

beforeAll(async () => {
  up = await startScriptedUpstream({ records: { 'slow.test.wachtpost': [{ type: 'A', ttl: 60, data: '192.0.2.90' }] } });
});
afterAll(async () => {
  await up?.stop();
});

/** `wachtpost serve` against the scripted upstream, with the given number of workers. */
function serve(workers: number): Promise<ServedProcess> {
  return spawnWachtpost(['--upstream', `127.0.0.1:${up.port}`, '--workers', String(workers)]);
}

describe.each([1, 2])('wachtpost serve with %i worker(s)', (workers) => {
  it('answers, then on SIGTERM finishes the query in flight and exits 0', async () => {
    const served = await serve(workers);
    const server = { host: '127.0.0.1', port: served.port };
    const first = await dig(server, 'slow.test.wachtpost', 'A');
    expect(first.answer[0]!.data).toBe('192.0.2.90');
    const ready = await fetch(`http://127.0.0.1:${served.httpPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok' });
    expect((await fetch(`http://127.0.0.1:${served.httpPort}/health`)).status).toBe(200);

    up.setBehaviour({ delayMs: 400 });
    const inFlight = dig(server, 'other.test.wachtpost', 'A', { timeoutSeconds: 4 });
    await sleep(250);
    served.child.kill('SIGTERM');
    const answered = await inFlight;
    up.setBehaviour('answer');
    expect(answered.status).toBe('NXDOMAIN');
    expect(await served.exited).toBe(0);
    const after = await dig(server, 'slow.test.wachtpost', 'A', { timeoutSeconds: 1 });
    expect(after.status).toBe('TIMEOUT');
  }, 30_000);
});

describe('wachtpost serve on SIGTERM', () => {
  it('closes feed clients with 1001 "server shutting down"', async () => {
    const token = 'process-admin-token-0123456789';
    const served = await spawnWachtpost(['--upstream', `127.0.0.1:${up.port}`, '--workers', '1'], { WACHTPOST_ADMIN_TOKEN: token });
    const socket = new WebSocket(`ws://127.0.0.1:${served.httpPort}/feed`, { headers: { authorization: `Bearer ${token}` } });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    await new Promise((resolve) => socket.once('open', resolve));
    served.child.kill('SIGTERM');
    expect(await closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await served.exited).toBe(0);
  }, 30_000);
});

describe('wachtpost check-config', () => {
  it('exits non-zero naming the field and line at fault', async () => {
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'wachtpost-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'dns:\n  udp_size: 99999\n');
    const child = spawn(process.execPath, [CLI, 'check-config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('dns.udp_size');
    expect(stderr).toContain(':2');
  });
});
