import dgram from 'node:dgram';
import { readdirSync, readlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchedUpstreamSockets } from '../../src/server/upstream-sockets.js';
import type { OpenConnectedSocket } from '../../src/upstream/connected-socket.js';
import { openDgramSocket } from '../../src/upstream/dgram-socket.js';
import { ExchangeCounters } from '../../src/upstream/exchange-counters.js';
import { POOL_SIZE, SOCKET_USES, UdpSocketPool, type PooledAttempt, type PooledSocket } from '../../src/upstream/udp-socket-pool.js';
import { freePort } from '../support/ports.js';

/** A UDP server on loopback that records each query's source port and answers with `reply(query)`, if any. */
async function server(reply: (query: Buffer) => Buffer[] = (query) => [query], host = '127.0.0.1'): Promise<{ port: number; ports: number[]; socket: dgram.Socket }> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const ports: number[] = [];
  socket.on('message', (query, rinfo) => {
    ports.push(rinfo.port);
    for (const message of reply(query)) socket.send(message, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { port: (socket.address() as AddressInfo).port, ports, socket };
}

/** An attempt that only records what the pool tells it. */
class Recorder implements PooledAttempt {
  readonly query: Buffer;
  readonly expected: { id: number };
  readonly received: Buffer[] = [];
  readonly failures: Error[] = [];
  socket: PooledSocket | null = null;

  constructor(id: number) {
    this.expected = { id };
    this.query = Buffer.alloc(12);
    this.query.writeUInt16BE(id, 0);
  }

  receive(message: Buffer): void {
    // Valid only during the call: the addon's socket reads the next batch into the same bytes.
    this.received.push(Buffer.from(message));
  }

  fail(error: Error): void {
    this.failures.push(error);
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** The pool's sockets on Node's dgram and on the batching addon (Linux, built by npm ci). */
const OPENERS: [string, OpenConnectedSocket][] = [
  ['dgram', openDgramSocket],
  ['the batching addon', batchedUpstreamSockets(true)!],
];
let open: OpenConnectedSocket = openDgramSocket;

function pool(port: number, counters = new ExchangeCounters(), host = '127.0.0.1'): UdpSocketPool {
  const made = new UdpSocketPool(host, port, host.includes(':') ? 6 : 4, counters, open);
  cleanups.push(() => made.close());
  return made;
}

/** Sockets this process holds open. */
function openSockets(): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

async function until(done: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
}

describe.each(OPENERS)('UdpSocketPool on %s', (_, opener) => {
  beforeEach(() => {
    open = opener;
  });

  it(`sends from at most ${POOL_SIZE} source ports and hands every answer to the attempt with its ID`, async () => {
    const upstream = await server();
    cleanups.push(() => upstream.socket.close());
    const sockets = pool(upstream.port);
    const attempts = Array.from({ length: 200 }, (_, i) => new Recorder(i));
    for (const attempt of attempts) attempt.socket = sockets.send(attempt);
    await until(() => attempts.every((attempt) => attempt.received.length === 1));
    expect(new Set(upstream.ports).size).toBeLessThanOrEqual(POOL_SIZE);
    expect(new Set(upstream.ports).size).toBeGreaterThan(1);
    for (const attempt of attempts) expect(attempt.received[0]!.readUInt16BE(0)).toBe(attempt.expected.id);
  });

  it('asks a server over IPv6', async () => {
    const upstream = await server(undefined, '::1');
    cleanups.push(() => upstream.socket.close());
    const attempts = [new Recorder(1), new Recorder(2)];
    const sockets = pool(upstream.port, new ExchangeCounters(), '::1');
    for (const attempt of attempts) sockets.send(attempt);
    await until(() => attempts.every((attempt) => attempt.received.length === 1));
    expect(attempts.map((attempt) => attempt.received[0]!.readUInt16BE(0))).toEqual([1, 2]);
  });

  it('sends the same ID from different sockets while both are in flight, and refuses it when every socket has it', async () => {
    const upstream = await server(() => []);
    cleanups.push(() => upstream.socket.close());
    const sockets = pool(upstream.port);
    const same = Array.from({ length: POOL_SIZE }, () => new Recorder(7));
    const used = same.map((attempt) => sockets.send(attempt));
    expect(new Set(used).size).toBe(POOL_SIZE);
    expect(sockets.send(new Recorder(7))).toBeNull();
    used[0]!.release(same[0]!);
    expect(sockets.send(new Recorder(7))).toBe(used[0]);
  });

  it(`moves to fresh random ports after ${SOCKET_USES} queries a socket, closing the worn ones once their queries are over`, async () => {
    const upstream = await server();
    cleanups.push(() => upstream.socket.close());
    const before = openSockets();
    const sockets = pool(upstream.port);
    const total = POOL_SIZE * SOCKET_USES + 4 * SOCKET_USES;
    let answered = 0;
    for (let id = 0; id < total; id++) {
      const attempt = new Recorder(id % 65_536);
      attempt.receive = () => {
        answered++;
        socket?.release(attempt);
      };
      const socket = sockets.send(attempt);
      // In steps of 100: a burst beyond the loopback server's receive buffer would be dropped there.
      if (id % 100 === 99) await until(() => answered === id + 1);
    }
    await until(() => answered === total);
    // About 1,125 queries a socket: nearly every one carried its 1,000 and gave way to a new port.
    expect(new Set(upstream.ports).size).toBeGreaterThan(1.5 * POOL_SIZE);
    // The worn ones are closed: no more than one pool's worth is open.
    await until(() => openSockets() <= before + POOL_SIZE);
  }, 30_000);

  it('counts an answer to an ID nobody waits for as rejected, but not a late answer to an attempt that ended', async () => {
    const upstream = await server((query) => {
      const stranger = Buffer.from(query);
      stranger.writeUInt16BE((query.readUInt16BE(0) + 1) % 65_536, 0);
      return [query, stranger];
    });
    cleanups.push(() => upstream.socket.close());
    const counters = new ExchangeCounters();
    const sockets = pool(upstream.port, counters);
    const attempt = new Recorder(100);
    const socket = sockets.send(attempt)!;
    socket.release(attempt);
    // The answer to 100 arrives after its attempt ended: dropped quietly; 101 was never asked.
    await until(() => counters.rejectedId === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counters.rejectedId).toBe(1);
    expect(attempt.received).toEqual([]);
  });

  it('fails the waiting attempts when the server refuses (ICMP port unreachable)', async () => {
    // Below the ephemeral range, so no socket of another test can take the port meanwhile.
    const sockets = pool(await freePort());
    const attempts: Recorder[] = [];
    const refused = (): boolean => attempts.some((attempt) => attempt.failures.length > 0);
    // One more attempt every 100 ms: the kernel may drop an ICMP error under its global rate limit.
    for (let id = 1; id <= 30 && !refused(); id++) {
      const attempt = new Recorder(id);
      attempts.push(attempt);
      sockets.send(attempt);
      await until(refused, 100).catch(() => undefined);
    }
    expect(attempts.flatMap((attempt) => attempt.failures.map((error) => (error as NodeJS.ErrnoException).code))).toContain('ECONNREFUSED');
  });
});
