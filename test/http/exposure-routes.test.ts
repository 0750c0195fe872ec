import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { History } from '../../src/history/history.js';
import { sha256Hex } from '../../src/http/auth.js';
import { buildHttpApp } from '../../src/http/http-server.js';
import { attachedHub, HOUR, makeEvent, publishAll, tempHistory, written } from '../history/fixtures.js';
import { httpOptions } from '../support/http-options.js';

const TOKEN = 'analyst-token-0123456789';
let history: History;
let close: () => Promise<void>;
let app: FastifyInstance;
let organisations = new Map([['fiod', 'FIOD']]);

beforeAll(async () => {
  ({ history, close } = await tempHistory());
  const hub = attachedHub(history);
  const now = Date.now();
  publishAll(hub, [
    makeEvent({ ts: now - HOUR, group: 'fiod', device: 'phone-1', owner_watchlisted: true, action: 'exempt' }),
    makeEvent({ ts: now - HOUR, group: 'retired-group', device: 'phone-2', owner_watchlisted: true, action: 'block' }),
    makeEvent({ ts: now - HOUR, group: null, device: 'phone-3', owner_watchlisted: true, action: 'monitor' }),
  ]);
  await written(history, 3);
  const config = loadConfig({ text: `api: { tokens: [{ name: a, role: analyst, sha256: ${sha256Hex(TOKEN)} }] }`, overrides: { upstream: ['127.0.0.1:5300'] } });
  app = await buildHttpApp(httpOptions(config.api, history, hub, { organisations: () => organisations }));
});
afterAll(async () => {
  await app?.close();
  await close?.();
});

const exposure = async () => (await app.inject({ method: 'GET', url: '/api/exposure', headers: { authorization: `Bearer ${TOKEN}` } })).json();

describe('GET /api/exposure', () => {
  it("names each group's organisation as configured now; none for no group or a group no longer configured", async () => {
    const { groups } = await exposure();
    expect(groups.map((group: { group: string | null; organisation: string | null; devices_watchlisted: number }) => [group.group, group.organisation, group.devices_watchlisted])).toEqual([
      ['fiod', 'FIOD', 1],
      ['retired-group', null, 1],
      [null, null, 1],
    ]);
    organisations = new Map([['fiod', 'Belastingdienst/FIOD']]);
    expect((await exposure()).groups[0].organisation).toBe('Belastingdienst/FIOD');
  });
});
