import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { sleep, spawnWithConfig, stopServed, withKnot, withScriptedUpstream } from '../integration/harness.js';
import { dig } from '../support/dig.js';
import { connect, framedQuery, openIdle, slowloris, unreadPipeline } from '../support/hostile-tcp.js';
import { childPids, eventually, openFds, scrape, statusKb } from '../support/served.js';

const TXT = 16;
const scripted = withScriptedUpstream({ 'www.test.wachtpost': [{ type: 'A', ttl: 300, data: '192.0.2.80' }] });
const { wachtpost } = scripted;

/** Resolves when the server has closed `socket` (FIN or reset), or false after `timeoutMs`. */
function closedByServer(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('end', done);
    socket.once('close', done);
  });
}

describe('who may hold a TCP connection', () => {
  it('closes a connection from outside the access list at accept, so outsiders never hold a slot', async () => {
    const wp = await wachtpost('access: { allow: ["127.0.0.2/32"] }\ndns: { tcp: { max_connections: 10 } }');
    const outsiders = await openIdle(wp.server, 50, '127.0.0.3');
    expect(await eventually(() => outsiders.open === 0, 5000)).toBe(true);
    expect(wp.resolver.tcp.open).toBe(0);
    expect(wp.resolver.tcp.refusedNotAdmitted).toBe(50);
    const allowed = await dig(wp.server, 'www.test.wachtpost', 'A', { tcp: true, extra: ['-b', '127.0.0.2'] });
    expect(allowed.status).toBe('NOERROR');
    outsiders.closeAll();
  });

  it('refuses a client beyond its share of connections while others are served', async () => {
    const wp = await wachtpost('dns: { tcp: { max_connections_per_client: 3 } }');
    const greedy = await openIdle(wp.server, 5, '127.0.0.4');
    expect(await eventually(() => greedy.open === 3, 5000)).toBe(true);
    expect(wp.resolver.tcp.refusedPerClient).toBe(2);
    const other = await dig(wp.server, 'www.test.wachtpost', 'A', { tcp: true, extra: ['-b', '127.0.0.5'] });
    expect(other.status).toBe('NOERROR');
    greedy.closeAll();
  });

  it('closes the connection idle longest to let a new client in when every slot is taken', async () => {
    const wp = await wachtpost('dns: { tcp: { max_connections: 4, max_connections_per_client: 4 } }');
    const idle = await openIdle(wp.server, 4, '127.0.0.6');
    expect(await eventually(() => wp.resolver.tcp.open === 4, 5000)).toBe(true);
    const fresh = await dig(wp.server, 'www.test.wachtpost', 'A', { tcp: true, extra: ['-b', '127.0.0.7'] });
    expect(fresh.status).toBe('NOERROR');
    expect(wp.resolver.tcp.closedForRoom).toBeGreaterThanOrEqual(1);
    idle.closeAll();
  });

  it('refuses a new connection when every slot is busy with a query, and says so', async () => {
    scripted.up.setBehaviour('silent');
    const wp = await wachtpost('dns: { tcp: { max_connections: 2 } }\nupstream: { timeout_ms: 3000, attempt_timeout_ms: 1000 }');
    const busy = await Promise.all([1, 2].map((i) => connect(wp.server)));
    busy.forEach((socket, i) => socket!.write(framedQuery(`busy${i}.test.wachtpost`, 1, i)));
    expect(await eventually(() => wp.resolver.dispatcher.inFlight === 2, 5000)).toBe(true);
    const third = await connect(wp.server);
    expect(third === null || (await closedByServer(third, 3000))).toBe(true);
    expect(wp.resolver.tcp.refusedFull).toBe(1);
    for (const socket of busy) socket!.destroy();
  });
});

describe('deadlines', () => {
  it('closes a slow sender whose message does not arrive whole in time, though it keeps sending', async () => {
    const wp = await wachtpost('dns: { tcp: { message_timeout_ms: 300, idle_timeout_ms: 60000 } }');
    const closedAfter = await slowloris(wp.server, 50, 10_000);
    expect(closedAfter).not.toBeNull();
    expect(wp.resolver.tcp.closedSlowMessage).toBe(1);
  });

  it('closes an idle connection outright, not half: the slot is free even when the client never closes', async () => {
    const wp = await wachtpost('dns: { tcp: { idle_timeout_ms: 300 } }');
    const socket = (await connect(wp.server))!;
    socket.on('error', () => undefined);
    expect(await eventually(() => wp.resolver.tcp.open === 1, 2000)).toBe(true);
    // The client never sends and never ends its side; the server must still let go.
    expect(await eventually(() => wp.resolver.tcp.open === 0, 5000)).toBe(true);
    expect(wp.resolver.tcp.closedIdle).toBe(1);
    socket.destroy();
  });
});

describe('half-closed clients', () => {
  it("answers queries sent before the client's FIN, including those that needed the upstream", async () => {
    const wp = await wachtpost('');
    scripted.up.setBehaviour({ delayMs: 300 });
    const socket = (await connect(wp.server))!;
    const replies: number[] = [];
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.readUInt16BE(2));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.end(Buffer.concat([framedQuery('h1.test.wachtpost', 1, 11), framedQuery('h2.test.wachtpost', 1, 12), framedQuery('www.test.wachtpost', 1, 13)]));
    await Promise.race([closed, sleep(5000)]);
    expect(replies.sort()).toEqual([11, 12, 13]);
  });
});

describe('replies a client does not read', () => {
  const upstream = withKnot();

  it('stop the reading of its connection before they grow the worker, and flow again once it reads', async () => {
    const served = await spawnWithConfig('', ['--upstream', `127.0.0.1:${upstream.knot.port}`, '--workers', '1']);
    try {
      const server = { host: '127.0.0.1', port: served.port };
      const primed = await dig(server, 'huge.test.wachtpost', 'TXT', { tcp: true });
      expect(primed.msgSize).toBeGreaterThan(50_000);
      const [worker] = childPids(served.child.pid!);
      const before = statusKb(worker!, 'VmRSS');
      // 8,000 replies of 50 kB would be 400 MB; the cap is 256 KiB per connection.
      const socket = (await unreadPipeline(server, 'huge.test.wachtpost', TXT, 8000))!;
      expect(await eventually(async () => (await scrape(served.httpPort, 'wachtpost_tcp_reads_paused_total')) >= 1, 20_000)).toBe(true);
      let peak = 0;
      for (let i = 0; i < 10; i++) {
        peak = Math.max(peak, statusKb(worker!, 'VmRSS'));
        await sleep(200);
      }
      expect((peak - before) / 1024).toBeLessThan(64);
      // Reading again brings the replies, and the server reads on.
      let bytes = 0;
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.resume();
      expect(await eventually(() => bytes > 20 * 50_000, 20_000)).toBe(true);
      socket.destroy();
    } finally {
      await stopServed(served);
    }
  }, 90_000);
});

describe('in a cluster', () => {
  it('refuses connections beyond the workers\' caps in the workers, never parking them in the primary', async () => {
    scripted.up.setBehaviour('silent');
    const yaml = 'dns: { tcp: { max_connections: 10 } }\nupstream: { timeout_ms: 5000, attempt_timeout_ms: 2000 }';
    const served = await spawnWithConfig(yaml, ['--upstream', `127.0.0.1:${scripted.up.port}`, '--workers', '2']);
    const sockets: net.Socket[] = [];
    try {
      const server = { host: '127.0.0.1', port: served.port };
      const primaryFds = openFds(served.child.pid!);
      // 60 connections, each busy with a query the silent upstream never answers: 20 slots.
      for (let i = 0; i < 60; i++) {
        const socket = await connect(server, `127.0.0.${10 + (i % 20)}`);
        if (socket === null) continue;
        socket.on('error', () => undefined);
        socket.write(framedQuery(`park${i}.test.wachtpost`, 1, i));
        sockets.push(socket);
        // Time for the query to arrive, so a full worker finds its connections busy, not idle.
        await sleep(20);
      }
      const turnedAway = async (): Promise<number> =>
        (await scrape(served.httpPort, 'wachtpost_tcp_refused_total')) + (await scrape(served.httpPort, 'wachtpost_tcp_closed_total'));
      expect(await eventually(async () => (await turnedAway()) >= 40, 10_000)).toBe(true);
      expect(await scrape(served.httpPort, 'wachtpost_tcp_connections')).toBeLessThanOrEqual(20);
      expect(openFds(served.child.pid!) - primaryFds).toBeLessThan(5);
      expect(served.output()).toContain('TCP connection cap reached');
    } finally {
      for (const socket of sockets) socket.destroy();
      await stopServed(served);
    }
  }, 60_000);
});
