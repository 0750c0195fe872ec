import { execFile } from 'node:child_process';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import type { EventFilter, History } from '../../src/history/history.js';
import { sha256Hex } from '../../src/http/auth.js';
import { startHttpServer, type RunningHttp } from '../../src/http/http-server.js';
import { attachedHub, HOUR, makeEvent, publishAll, T0, tempHistory, WECHAT, written } from '../history/fixtures.js';
import { httpOptions } from '../support/http-options.js';

const TOKEN = 'analyst-token-0123456789';
const EVENTS = 2500;

let history: History;
let close: () => Promise<void>;
let server: RunningHttp;
let published: DetectionEvent[];

beforeAll(async () => {
  ({ history, close } = await tempHistory());
  const hub = attachedHub(history, { capacity: 4096 });
  const events = Array.from({ length: EVENTS }, (_, i) =>
    makeEvent({
      ts: T0 + i * 1000,
      ...(i % 5 === 0 ? { app: WECHAT, device: 'phone-7' } : {}),
      // Names and groups come from outside; a spreadsheet must not run them.
      ...(i === EVENTS - 1 ? { qname: '=cmd|calc!a1.example', group: '@sum(1,2)', hosting: [{ ip: '192.0.2.1', country: 'CN', asn: 4134, org: 'Chinanet' }, { ip: '192.0.2.2', country: 'CN', asn: 4812, org: 'China Telecom' }] } : {}),
    }),
  );
  published = publishAll(hub, events);
  await written(history, EVENTS);
  const config = loadConfig({ text: `api: { tokens: [{ name: a, role: analyst, sha256: ${sha256Hex(TOKEN)} }] }`, overrides: { upstream: ['127.0.0.1:5300'] } });
  server = await startHttpServer('127.0.0.1:0', httpOptions(config.api, history, hub));
}, 30_000);
afterAll(async () => {
  await server?.close();
  await close?.();
});

/** What paging through /api/events gives for `filter`, newest first: the export's contract. */
function paged(filter: Omit<EventFilter, 'limit' | 'before_id'>, limit: number): DetectionEvent[] {
  const events: DetectionEvent[] = [];
  let before: number | undefined;
  while (events.length < limit) {
    const page = history.events({ ...filter, ...(before === undefined ? {} : { before_id: before }), limit: Math.min(1000, limit - events.length) });
    events.push(...page.items);
    if (page.next_before_id === null) break;
    before = page.next_before_id;
  }
  return events;
}

/** Downloads with curl, as an analyst's script would: status, headers and body. */
function curl(path: string, token = TOKEN): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-D', '-', '-H', `authorization: Bearer ${token}`, `http://127.0.0.1:${server.port}${path}`], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      const split = stdout.indexOf('\r\n\r\n');
      const headers = stdout.slice(0, split);
      resolve({ status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)![1]), headers: headers.toLowerCase(), body: stdout.slice(split + 4) });
    });
  });
}

describe('GET /api/events.csv', () => {
  it('streams the filtered events newest first as CSV with a header row, across history pages', async () => {
    const { status, headers, body } = await curl('/api/events.csv?limit=2000');
    expect(status).toBe(200);
    expect(headers).toContain('content-type: text/csv; charset=utf-8');
    expect(headers).toMatch(/content-disposition: attachment; filename="wachtpost-events-\d{8}t\d{6}\.csv"/);
    const rows = parse(body, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2000);
    // The hub adds residual events of its own between the published ones; all are stored.
    expect(rows.map((row) => Number(row.id))).toEqual(paged({}, 2000).map((event) => event.id));
    expect(published.length).toBe(EVENTS);
    expect(Object.keys(rows[0]!)).toEqual(expect.arrayContaining(['id', 'time', 'client', 'device', 'qname', 'app_id', 'owner_country', 'hosting_countries', 'count']));
    expect(rows[0]).toMatchObject({ time: new Date(T0 + (EVENTS - 1) * 1000).toISOString(), hosting_countries: 'CN', hosting_asns: '4134 4812', cached: 'false' });
  });

  it('makes names a spreadsheet would run as formulas plain text', async () => {
    const [newest] = parse((await curl('/api/events.csv?limit=1')).body, { columns: true }) as Record<string, string>[];
    expect(newest).toMatchObject({ qname: "'=cmd|calc!a1.example", group: "'@sum(1,2)" });
  });

  it('takes the filters of /api/events', async () => {
    const since = new Date(T0 + 1000 * 1000).toISOString();
    const rows = parse((await curl(`/api/events.csv?app=wechat&device=phone-7&since=${since}&limit=100000`)).body, { columns: true }) as Record<string, string>[];
    const expected = paged({ app: 'wechat', device: 'phone-7', since: T0 + 1000 * 1000 }, 100_000);
    expect(expected.length).toBeGreaterThan(300);
    expect(rows.map((row) => Number(row.id))).toEqual(expected.map((event) => event.id));
    expect(new Set(rows.map((row) => `${row.app_id} ${row.device}`))).toEqual(new Set(['wechat phone-7']));
  });

  it('refuses what /api/events refuses, a limit beyond 100,000 and a missing token', async () => {
    expect((await curl('/api/events.csv?client=not-an-ip')).status).toBe(400);
    expect((await curl('/api/events.csv?since=2024-13-01')).status).toBe(400);
    expect((await curl('/api/events.csv?limit=100001')).status).toBe(400);
    expect((await curl('/api/events.csv', 'wrong-token-0123456789')).status).toBe(401);
  });
});

describe('GET /api/events.jsonl', () => {
  it('streams one event per line, exactly as the API returns them', async () => {
    const { status, headers, body } = await curl('/api/events.jsonl?since=' + (T0 + (EVENTS - 3) * 1000));
    expect(status).toBe(200);
    expect(headers).toContain('content-type: application/jsonl; charset=utf-8');
    expect(body.trimEnd().split('\n').map((line) => JSON.parse(line) as DetectionEvent)).toEqual(paged({ since: T0 + (EVENTS - 3) * 1000 }, 100));
    expect(body.trimEnd().split('\n').map((line) => (JSON.parse(line) as DetectionEvent).qname)).toContain('=cmd|calc!a1.example');
  });

  it('answers an empty body for a filter nothing matches', async () => {
    const { status, body } = await curl(`/api/events.jsonl?until=${T0 - HOUR}`);
    expect([status, body]).toEqual([200, '']);
  });
});
