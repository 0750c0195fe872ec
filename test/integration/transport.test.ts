import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, rawQuery } from '../support/dig.js';
import { encodeQuery } from '../support/packets.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { freePort } from '../support/ports.js';
import { sleep, startWachtpost, type RunningWachtpost } from './harness.js';

let up: Awaited<ReturnType<typeof startScriptedUpstream>>;
let wp: RunningWachtpost;

beforeAll(async () => {
  up = await startScriptedUpstream({
    records: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`p${i}.test.wachtpost`, [{ type: 'A' as const, ttl: 300, data: `192.0.2.${i}` }]])),
  });
  wp = await startWachtpost([up], 'dns: { tcp: { idle_timeout_ms: 500, max_connections: 3 } }');
});

afterAll(async () => {
  await wp?.stop();
  await up?.stop();
});

/** Opens a TCP connection, writes `payload` (in pieces if asked) and collects `expected` framed replies. */
function tcpExchange(payload: Buffer, expected: number, pieces = 1): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(wp.server.port, wp.server.host);
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`got ${replies.length} of ${expected} replies`));
    }, 5000);
    socket.on('connect', async () => {
      const size = Math.ceil(payload.length / pieces);
      for (let at = 0; at < payload.length; at += size) {
        socket.write(payload.subarray(at, at + size));
        if (pieces > 1) await sleep(20);
      }
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (replies.length === expected) {
        clearTimeout(timer);
        socket.destroy();
        resolve(replies);
      }
    });
    socket.on('error', reject);
  });
}

function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

describe('TCP (RFC 7766)', () => {
  it('answers 10 pipelined queries on one connection, each matched by ID', async () => {
    // Warm half of them so cached and forwarded answers complete out of order.
    for (let i = 0; i < 5; i++) await dig(wp.server, `p${i * 2}.test.wachtpost`, 'A');
    up.setBehaviour({ delayMs: 100 });
    const queries = Array.from({ length: 10 }, (_, i) => encodeQuery(`p${i}.test.wachtpost`, 1, { id: 1000 + i }));
    const replies = await tcpExchange(Buffer.concat(queries.map(frame)), 10);
    up.setBehaviour('answer');
    const ids = replies.map((reply) => reply.readUInt16BE(0));
    expect(new Set(ids)).toEqual(new Set(queries.map((query) => query.readUInt16BE(0))));
    expect(ids).not.toEqual([...ids].sort((a, b) => a - b)); // cached ones overtook forwarded ones
    for (const reply of replies) expect(reply.readUInt16BE(2) & 0xf).toBe(0);
  });

  it('reassembles messages split across reads', async () => {
    const query = encodeQuery('p1.test.wachtpost', 1, { id: 77 });
    const replies = await tcpExchange(Buffer.concat([frame(query), frame(encodeQuery('p2.test.wachtpost', 1, { id: 78 }))]), 2, 7);
    expect(replies.map((reply) => reply.readUInt16BE(0)).sort()).toEqual([77, 78]);
  });

  it('closes an idle connection', async () => {
    const socket = net.connect(wp.server.port, wp.server.host);
    const closedAfter = await new Promise<number>((resolve) => {
      const started = Date.now();
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', () => undefined);
    });
    expect(closedAfter).toBeGreaterThanOrEqual(400);
    expect(closedAfter).toBeLessThan(3000);
  });

  it('caps concurrent connections', async () => {
    const sockets = await Promise.all(
      Array.from({ length: 5 }, () => new Promise<net.Socket>((resolve) => {
        const socket = net.connect(wp.server.port, wp.server.host, () => resolve(socket));
        socket.on('error', () => undefined);
      })),
    );
    await sleep(100);
    const open = sockets.filter((socket) => !socket.destroyed && socket.readyState === 'open');
    const closed = await Promise.all(sockets.map((socket) => new Promise<boolean>((resolve) => {
      if (socket.destroyed) return resolve(true);
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 300);
    })));
    expect(closed.filter(Boolean).length).toBeGreaterThanOrEqual(2);
    for (const socket of open) socket.destroy();
  });
});

describe('malformed input', () => {
  it('answers FORMERR to a readable header with a broken body, over UDP and TCP', async () => {
    const broken = encodeQuery('p1.test.wachtpost', 1, { id: 4242 }).subarray(0, 20);
    for (const tcp of [false, true]) {
      const reply = await rawQuery(wp.server, broken, { tcp, timeoutMs: 1000 });
      expect(reply).not.toBeNull();
      expect(reply!.readUInt16BE(0)).toBe(4242);
      expect(reply!.readUInt16BE(2) & 0xf).toBe(1);
    }
  });

  it('drops packets shorter than a header, and responses', async () => {
    expect(await rawQuery(wp.server, Buffer.from('0102030405', 'hex'), { timeoutMs: 300 })).toBeNull();
    const response = encodeQuery('p1.test.wachtpost', 1);
    response[2]! |= 0x80;
    expect(await rawQuery(wp.server, response, { timeoutMs: 300 })).toBeNull();
  });
});

describe('access control', () => {
  it('refuses clients outside the allowed CIDRs and serves those inside', async () => {
    const acl = await startWachtpost([up], 'access: { allow: ["127.0.0.2/32"] }');
    try {
      const outside = await dig(acl.server, 'p1.test.wachtpost', 'A', { extra: ['-b', '127.0.0.1'] });
      expect(outside.status).toBe('REFUSED');
      expect(outside.answer).toEqual([]);
      const inside = await dig(acl.server, 'p1.test.wachtpost', 'A', { extra: ['-b', '127.0.0.2'] });
      expect(inside.status).toBe('NOERROR');
    } finally {
      await acl.stop();
    }
  });
});

describe('IPv6', () => {
  it('listens and answers on ::1', async () => {
    const port = await freePort();
    const v6 = await startWachtpost([up], '', { listen: [`[::1]:${port}`] });
    try {
      const result = await dig({ host: '::1', port }, 'p3.test.wachtpost', 'A');
      expect(result.status).toBe('NOERROR');
      const tcp = await dig({ host: '::1', port }, 'p3.test.wachtpost', 'A', { tcp: true });
      expect(tcp.status).toBe('NOERROR');
    } finally {
      await v6.stop();
    }
  });
});
