import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FAILURE_BURST } from '../../src/http/auth-throttle.js';
import { sha256Hex } from '../../src/http/auth.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { spawnWachtpost, type ServedProcess } from './harness.js';

const ANALYST = 'reload-analyst-token-0123456789';
const ADMIN = 'reload-admin-token-0123456789abc';

let upstream: ScriptedUpstream;
let served: ServedProcess;
let dir: string;
let file: string;

const configText = (admin: boolean): string =>
  `history: { path: "" }
api:
  tokens:
    - { name: alice, role: analyst, sha256: ${sha256Hex(ANALYST)} }
${admin ? `    - { name: root, role: admin, sha256: ${sha256Hex(ADMIN)} }\n` : ''}`;

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-tokens-'));
  file = join(dir, 'wachtpost.yaml');
  await writeFile(file, configText(true));
  served = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${upstream.port}`, '--workers', '1']);
}, 30_000);
afterAll(async () => {
  served?.child.kill('SIGTERM');
  await served?.exited;
  await upstream?.stop();
  await rm(dir, { recursive: true, force: true });
});

const status = async (token: string): Promise<number> =>
  (await fetch(`http://127.0.0.1:${served.httpPort}/api/session`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('access to the API of a running wachtpost serve', () => {
  it('stops a token removed from the file on SIGHUP, closing its feed sockets with 4001', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${served.httpPort}/feed`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    await new Promise((resolve) => socket.once('open', resolve));
    expect(await status(ADMIN)).toBe(200);
    await writeFile(file, configText(false));
    served.child.kill('SIGHUP');
    expect(await closed).toEqual({ code: 4001, reason: 'token revoked' });
    expect(await status(ADMIN)).toBe(401);
    expect(await status(ANALYST)).toBe(200);
    expect(served.output()).toContain('"removed":1,"msg":"API tokens reloaded"');
  }, 30_000);

  // Last: it leaves 127.0.0.1 throttled.
  it('throttles a source guessing tokens, counting it in /metrics and a log line without the token', async () => {
    const metric = async (name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${served.httpPort}/metrics`)).text();
      return Number(/^(\S+) (\d+)$/m.exec(text.split('\n').filter((line) => line.startsWith(`${name} `)).join('\n'))?.[2] ?? NaN);
    };
    const failuresBefore = await metric('wachtpost_auth_failures_total');
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push(await status(`guess-${i}-0123456789abcdef`));
    const allowed = FAILURE_BURST - failuresBefore;
    expect(statuses).toEqual([...Array(allowed).fill(401), ...Array(25 - allowed).fill(429)]);
    expect(await status(ANALYST)).toBe(429);
    expect(await metric('wachtpost_auth_failures_total')).toBe(FAILURE_BURST);
    expect(await metric('wachtpost_auth_throttled_total')).toBe(25 - allowed + 1);
    expect(served.output()).toContain('"msg":"failed authentication (counts since the last such line)"');
    expect(served.output()).not.toContain('guess-');
  }, 30_000);
});

