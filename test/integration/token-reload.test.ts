import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
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

describe('API tokens on reload', () => {
  it('stop working once removed from the file (SIGHUP), closing their feed sockets with 4001', async () => {
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
});
