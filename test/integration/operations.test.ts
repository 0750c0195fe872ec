import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { freePort } from '../support/ports.js';
import { promtoolCheck, samplesOf as samples } from '../support/prometheus.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { sleep, spawnWachtpost, startWachtpost, type ServedProcess } from './harness.js';

const PROM_CLIENT_NAMES = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

const get = async (served: ServedProcess, path: string): Promise<{ status: number; text: string }> => {
  const response = await fetch(`http://127.0.0.1:${served.httpPort}${path}`);
  return { status: response.status, text: await response.text() };
};

/** Polls `read` (bounded) until `done` holds for what it returns. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > end) return value;
    await sleep(100);
  }
}

describe('/metrics of a served node with two workers', () => {
  let knot: KnotServer;
  let served: ServedProcess;
  beforeAll(async () => {
    knot = await startKnot();
    served = await spawnWachtpost(['--upstream', `127.0.0.1:${knot.port}`, '--workers', '2', '--log-format', 'json']);
  }, 40_000);
  afterAll(async () => {
    served?.child.kill('SIGTERM');
    await served?.exited;
    await knot?.stop();
  });

  it('passes promtool check metrics and carries the new families, moving with traffic', async () => {
    const server = { host: '127.0.0.1', port: served.port };
    const upstream = `server="127.0.0.1:${knot.port}"`;
    for (const name of ['a.test.wachtpost', 'a.test.wachtpost', 'api16-normal-c-useast1a.tiktokv.com']) await dig(server, name, 'A');
    await dig(server, 'aaaa.test.wachtpost', 'AAAA', { tcp: true });
    const first = (await get(served, '/metrics')).text;
    // prom-client's own gauges keep the names Node dashboards know, which promtool's linter frowns on.
    const complaints = (await promtoolCheck(first)).split('\n').filter((line) => line !== '' && !PROM_CLIENT_NAMES.test(line));
    expect(complaints).toEqual([]);
    const before = samples(first);
    for (const process of ['primary', 'worker-1', 'worker-2']) {
      expect(before.get(`process_resident_memory_bytes{process="${process}"}`), process).toBeGreaterThan(0);
      expect(before.get(`process_start_time_seconds{process="${process}"}`), process).toBeGreaterThan(0);
      expect(before.has(`nodejs_eventloop_lag_p99_seconds{process="${process}"}`), process).toBe(true);
    }
    expect([...before.keys()].some((key) => /^wachtpost_build_info\{version="\d+\.\d+\.\d+",node="\d+\.\d+\.\d+"\}$/.test(key))).toBe(true);
    expect(before.get(`wachtpost_upstream_answers_total{${upstream}}`)).toBeGreaterThanOrEqual(2);
    expect(before.get(`wachtpost_upstream_latency_seconds_count{${upstream}}`)).toBe(before.get(`wachtpost_upstream_answers_total{${upstream}}`));
    expect(before.get(`wachtpost_upstream_up{${upstream}}`)).toBe(1);
    expect(before.get(`wachtpost_upstream_timeouts_total{${upstream}}`)).toBe(0);
    expect(before.get('wachtpost_dns_answer_latency_seconds_count{transport="tcp",source="upstream"}')).toBe(1);
    expect(before.get('wachtpost_dns_answer_latency_seconds_count{transport="udp",source="upstream"}')).toBeGreaterThanOrEqual(2);
    expect(before.has('wachtpost_tcp_connections')).toBe(true);
    expect(before.get('wachtpost_tcp_cap_reached_total')).toBe(0);
    expect(before.get('wachtpost_detections_total{app="tiktok",owner_country="CN",action="monitor"}')).toBe(1);
    expect(before.get('wachtpost_ready')).toBe(1);
    expect(before.get('wachtpost_degraded{component="history"}')).toBe(0);
    expect(before.get('wachtpost_degraded{component="upstream"}')).toBe(0);
    expect(before.get('wachtpost_history_size_bytes')).toBeGreaterThan(0);

    // The same name again and again: answered from the cache of whichever worker gets it.
    for (let i = 0; i < 4; i++) await dig(server, 'api16-normal-c-useast1a.tiktokv.com', 'A');
    await dig(server, 'multi.test.wachtpost', 'A');
    const after = samples((await get(served, '/metrics')).text);
    expect(after.get('wachtpost_detections_total{app="tiktok",owner_country="CN",action="monitor"}')).toBe(5);
    expect(after.get(`wachtpost_upstream_answers_total{${upstream}}`)).toBeGreaterThan(before.get(`wachtpost_upstream_answers_total{${upstream}}`)!);
    expect(after.get('wachtpost_dns_answer_latency_seconds_count{transport="udp",source="cache"}')).toBeGreaterThan(
      before.get('wachtpost_dns_answer_latency_seconds_count{transport="udp",source="cache"}') ?? 0,
    );
    expect(after.get('process_cpu_seconds_total{process="primary"}')).toBeGreaterThanOrEqual(before.get('process_cpu_seconds_total{process="primary"}')!);
  }, 30_000);

  it('logs JSON lines with ISO timestamps', () => {
    const ready = served
      .output()
      .split('\n')
      .find((line) => line.includes('wachtpost ready'));
    expect(JSON.parse(ready!).time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});

describe('health with a dead upstream', () => {
  it('reports degraded with the real cause on /health, /ready and /metrics, logs it once, and recovers', async () => {
    const port = await freePort();
    const served = await spawnWachtpost(['--upstream', `127.0.0.1:${port}`, '--workers', '1', '--log-format', 'json']);
    let upstream: Awaited<ReturnType<typeof startScriptedUpstream>> | null = null;
    try {
      const server = { host: '127.0.0.1', port: served.port };
      expect(JSON.parse((await get(served, '/health')).text)).toEqual({ status: 'ok' });
      for (const name of ['one.test.wachtpost', 'two.test.wachtpost']) expect((await dig(server, name, 'A', { timeoutSeconds: 4 })).status).toBe('SERVFAIL');
      const health = await until(
        () => get(served, '/health'),
        ({ text }) => text.includes('degraded'),
      );
      expect(health.status).toBe(200);
      expect(JSON.parse(health.text)).toEqual({ status: 'degraded', reasons: [expect.stringMatching(new RegExp(`every upstream is failing: 127\\.0\\.0\\.1:${port}: connection refused`))] });
      const ready = await get(served, '/ready');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.text)).toMatchObject({ status: 'degraded', reasons: [expect.stringContaining('connection refused')] });
      const metrics = samples((await get(served, '/metrics')).text);
      expect(metrics.get('wachtpost_degraded{component="upstream"}')).toBe(1);
      expect(metrics.get(`wachtpost_upstream_up{server="127.0.0.1:${port}"}`)).toBe(0);
      expect(metrics.get(`wachtpost_upstream_failures_total{server="127.0.0.1:${port}",cause="refused"}`)).toBeGreaterThanOrEqual(2);
      expect(metrics.get('wachtpost_dns_replies_total{rcode="SERVFAIL"}')).toBe(2);
      const failing = served
        .output()
        .split('\n')
        .filter((line) => line.includes('failing'))
        .map((line) => JSON.parse(line) as { level: number; msg: string; cause?: string });
      expect(failing.filter((line) => line.cause === 'refused')).toHaveLength(1);
      expect(failing.filter((line) => line.msg.startsWith('every upstream is failing'))).toHaveLength(1);

      upstream = await startScriptedUpstream({ port, records: { 'back.test.wachtpost': [{ type: 'A', ttl: 60, data: '192.0.2.77' }] } });
      const answered = await until(
        () => dig(server, 'back.test.wachtpost', 'A', { timeoutSeconds: 4 }),
        (result) => result.status === 'NOERROR',
      );
      expect(answered.answer[0]?.data).toBe('192.0.2.77');
      const healed = await until(
        () => get(served, '/health'),
        ({ text }) => !text.includes('degraded'),
      );
      expect(JSON.parse(healed.text)).toEqual({ status: 'ok' });
      expect(JSON.parse((await get(served, '/ready')).text)).toEqual({ status: 'ok' });
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
      await upstream?.stop();
    }
  }, 60_000);
});

describe('TCP readings for the metrics', () => {
  // Refusals at a full listener (wachtpost_tcp_cap_reached_total) are in test/transport/tcp-listener.test.ts.
  it('count open connections and the idle ones closed to make room for a newcomer', async () => {
    const wp = await startWachtpost([{ host: '127.0.0.1', port: 9 }], 'dns:\n  tcp:\n    max_connections: 1\n');
    const sockets: net.Socket[] = [];
    const connect = async (): Promise<net.Socket> => {
      const socket = net.connect(wp.server.port, wp.server.host);
      sockets.push(socket);
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      return socket;
    };
    try {
      const idle = await connect();
      await until(async () => wp.resolver.tcp, (tcp) => tcp.open === 1);
      const closed = new Promise((resolve) => idle.once('close', resolve));
      await connect();
      await closed;
      expect(await until(async () => wp.resolver.tcp, (tcp) => tcp.closedForRoom === 1)).toMatchObject({ open: 1, closedForRoom: 1, refusedFull: 0 });
    } finally {
      for (const socket of sockets) socket.destroy();
      await wp.stop();
    }
  }, 30_000);
});
