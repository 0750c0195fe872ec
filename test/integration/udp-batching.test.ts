import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchUdpListener } from '../../src/transport/batch-udp-listener.js';
import { nativeUdp } from '../../src/transport/native-udp.js';
import { claimPorts } from '../../src/transport/claim-ports.js';
import { UdpListener } from '../../src/transport/udp-listener.js';
import { dig, rawQuery } from '../support/dig.js';
import { encodeQuery, encodeResponse, parsePacket, TYPE } from '../support/packets.js';
import { freePort } from '../support/ports.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { sleep, spawnWachtpost, startWachtpost, type RunningWachtpost } from './harness.js';

const NAMES = 40;
let up: Awaited<ReturnType<typeof startScriptedUpstream>>;
let wp: RunningWachtpost;

/** The resolver's UDP listeners (private to it; read here to see which socket it chose). */
function udpListeners(running: RunningWachtpost): unknown[] {
  return (running.resolver as unknown as { udp: unknown[] }).udp;
}

beforeAll(async () => {
  up = await startScriptedUpstream({
    records: Object.fromEntries(Array.from({ length: NAMES }, (_, i) => [`b${i}.test.wachtpost`, [{ type: 'A' as const, ttl: 300, data: `192.0.2.${i}` }]])),
  });
  wp = await startWachtpost([up]);
});

afterAll(async () => {
  await wp?.stop();
  await up?.stop();
});

/** Sends every message from its own socket at once; resolves with the replies by message index (null: none within 3 s). */
async function burst(port: number, messages: Buffer[], host = '127.0.0.1'): Promise<Array<Buffer | null>> {
  const replies: Array<Buffer | null> = messages.map(() => null);
  const sockets = messages.map(() => dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4'));
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.bind(0, host, resolve))));
  const done = new Promise<void>((resolve) => {
    let left = messages.length;
    const timer = setTimeout(resolve, 3000);
    sockets.forEach((socket, i) =>
      socket.on('message', (reply) => {
        replies[i] = reply;
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      }),
    );
  });
  // All sent before the resolver's event loop turn (it runs in this process): they arrive as batches.
  messages.forEach((message, i) => sockets[i]!.send(message, port, host));
  await done;
  for (const socket of sockets) socket.close();
  return replies;
}

describe('batched UDP (recvmmsg/sendmmsg)', () => {
  it('is built on Linux and chosen by default', () => {
    expect(process.platform === 'linux' ? nativeUdp() : null).not.toBeNull();
    expect(udpListeners(wp)[0]).toBeInstanceOf(BatchUdpListener);
  });

  it('answers a burst from many clients, first from the upstream and then from the cache, each reply to its sender and ID', async () => {
    const listener = udpListeners(wp)[0] as BatchUdpListener;
    const before = listener.stats!;
    // Each query spells its name in a case of its own, which its reply must echo (RFC 1035
    // §7.3): read from the receive slots after later batches refilled them, it would not.
    const spelling = (i: number): string => `b${i % NAMES}.test.wachtpost`.replace(/[a-z]/g, (c, at: number) => ((i >> at % 8) & 1 ? c.toUpperCase() : c));
    const messages = Array.from({ length: 200 }, (_, i) => encodeQuery(spelling(i), TYPE.A, { id: 1000 + i, edns: { udp: 1232 } }));
    for (const round of ['upstream', 'cache']) {
      const replies = await burst(wp.server.port, messages);
      replies.forEach((reply, i) => {
        expect(reply, `${round}: reply to query ${i}`).not.toBeNull();
        expect(reply!.readUInt16BE(0)).toBe(1000 + i);
        const question = messages[i]!.subarray(12, 12 + spelling(i).length + 2 + 4);
        expect(reply!.subarray(12, 12 + question.length).toString('latin1'), `${round}: question of reply ${i}`).toBe(question.toString('latin1'));
        // The answer's address ends in the name's number: each client got its own question's answer.
        expect([...reply!.subarray(reply!.length - 15, reply!.length - 11)]).toEqual([192, 0, 2, i % NAMES]);
      });
    }
    const after = listener.stats!;
    expect(after.received - before.received).toBe(400);
    // Several datagrams per receive call: the point of the batching.
    expect(after.batches - before.batches).toBeLessThan(400 / 2);
    expect(after.dropped).toBe(0);
  });

  it("sends a batch's cache-hit replies before the upstream queries of its misses", async () => {
    // One socket is both the client and the upstream, so its receive queue shows the order
    // in which the resolver sent replies (QR set) and forwarded queries (QR clear).
    const both = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => both.bind(0, '127.0.0.1', resolve));
    const own = await startWachtpost([{ host: '127.0.0.1', port: both.address().port }]);
    const arrived: Buffer[] = [];
    both.on('message', (message, source) => {
      arrived.push(message);
      if ((message[2]! & 0x80) !== 0) return;
      const question = parsePacket(message).questions[0]!;
      both.send(encodeResponse(message.readUInt16BE(0), question.name, TYPE.A, [{ name: question.name, type: TYPE.A, ttl: 300, address: '192.0.2.9' }]), source.port, source.address);
    });
    const until = async (done: () => boolean): Promise<void> => {
      for (let waited = 0; !done() && waited < 3000; waited += 10) await sleep(10);
    };
    const replies = (): number => arrived.filter((message) => (message[2]! & 0x80) !== 0).length;
    try {
      // Warm-up: the hit name cached, and (200 names over 32 sockets) every pooled upstream socket connected.
      for (let i = 0; i < 200; i++) both.send(encodeQuery(`warm${i}.test.wachtpost`, TYPE.A, { id: i }), own.server.port, '127.0.0.1');
      both.send(encodeQuery('hit.test.wachtpost', TYPE.A, { id: 500 }), own.server.port, '127.0.0.1');
      await until(() => replies() === 201);
      expect(replies()).toBe(201);
      arrived.length = 0;
      // Eight misses, then the hit, sent before the resolver's next turn: one batch.
      for (let i = 0; i < 8; i++) both.send(encodeQuery(`miss${i}.test.wachtpost`, TYPE.A, { id: 600 + i }), own.server.port, '127.0.0.1');
      both.send(encodeQuery('hit.test.wachtpost', TYPE.A, { id: 700 }), own.server.port, '127.0.0.1');
      await until(() => replies() === 9);
      const order = arrived.map((message) => ((message[2]! & 0x80) !== 0 ? `reply ${message.readUInt16BE(0)}` : 'query'));
      expect(order.filter((what) => what === 'query')).toHaveLength(8);
      expect(order[0]).toBe('reply 700');
    } finally {
      await own.stop();
      both.close();
    }
  });

  it('drops a datagram longer than a slot, counts it, and goes on answering', async () => {
    const listener = udpListeners(wp)[0] as BatchUdpListener;
    const truncated = listener.stats!.truncated;
    const huge = Buffer.concat([encodeQuery('b1.test.wachtpost', TYPE.A), Buffer.alloc(5000)]);
    expect(await rawQuery(wp.server, huge, { timeoutMs: 500 })).toBeNull();
    expect(listener.stats!.truncated).toBe(truncated + 1);
    expect(wp.resolver.udpLosses.oversized).toBe(truncated + 1); // what /metrics reports
    expect((await dig(wp.server, 'b1.test.wachtpost', 'A')).answer[0]!.data).toBe('192.0.2.1');
  });

  it('sends replies without DF, ignoring path MTU information, so a forged ICMP cannot make them fragment', async () => {
    // tcpdump -v prints each IPv4 header's flags: [DF] under the kernel's default (path MTU
    // discovery wanted), [none] with IP_PMTUDISC_OMIT.
    const capture = spawn('tcpdump', ['-i', 'lo', '-n', '-v', '-l', '-c', '1', `udp and src host 127.0.0.1 and src port ${wp.server.port}`]);
    let printed = '';
    capture.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const exited = new Promise<void>((resolve) => capture.on('exit', () => resolve()));
    try {
      // tcpdump says "listening on lo" on stderr once it captures.
      await new Promise<void>((resolve, reject) => {
        capture.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('listening on') && resolve());
        capture.on('error', reject);
      });
      expect(await rawQuery(wp.server, encodeQuery('b4.test.wachtpost', TYPE.A))).not.toBeNull();
      await Promise.race([exited, sleep(5000)]);
    } finally {
      capture.kill();
    }
    expect(printed).toMatch(/flags \[none\], proto UDP/);
  });

  it('serves IPv6 clients, their address read back right (the ACL admits ::1 only by it)', async () => {
    const port = await freePort();
    const v6 = await startWachtpost([up], '', { listen: [`[::1]:${port}`] });
    try {
      expect(udpListeners(v6)[0]).toBeInstanceOf(BatchUdpListener);
      const replies = await burst(port, [encodeQuery('b2.test.wachtpost', TYPE.A, { id: 7 })], '::1');
      expect(replies[0]!.readUInt16BE(0)).toBe(7);
      expect(replies[0]![3]! & 0x0f).toBe(0); // NOERROR, not REFUSED
    } finally {
      await v6.stop();
    }
  });

  it('falls back to Node dgram when switched off', async () => {
    const plain = await startWachtpost([up], 'dns: { udp_batching: false }');
    try {
      expect(udpListeners(plain)[0]).toBeInstanceOf(UdpListener);
      expect((await dig(plain.server, 'b3.test.wachtpost', 'A')).answer[0]!.data).toBe('192.0.2.3');
    } finally {
      await plain.stop();
    }
  });

  it('refuses a port another socket holds instead of sharing it, and turns port 0 into a real port', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    const held = holder.address().port;
    try {
      await expect(claimPorts([`127.0.0.1:${held}`], 53)).rejects.toThrow(`cannot serve DNS on 127.0.0.1:${held}`);
      await expect(startWachtpost([up], '', { listen: [`127.0.0.1:${held}`] })).rejects.toThrow(/EADDRINUSE|in use/);
    } finally {
      holder.close();
    }
    const [claimed] = await claimPorts(['127.0.0.1:0', '[::1]:0'], 53);
    expect(claimed).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
  });

  it('lets a served cluster refuse a port in use, naming it', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    const held = holder.address().port;
    try {
      await expect(spawnWachtpost(['--upstream', `127.0.0.1:${up.port}`, '--workers', '2', '--listen', `127.0.0.1:${held}`])).rejects.toThrow(
        `cannot serve DNS on 127.0.0.1:${held}`,
      );
    } finally {
      holder.close();
    }
  });
});
