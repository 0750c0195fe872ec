import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { EventHub } from '../../src/events/event-hub.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { encodeQuery, parsePacket, TYPE } from '../support/packets.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/served.js';
import { curl, fileFingerprint, kdig, kdigStatus, makeCertificate, makeClientCertificate, presentedFingerprint, type CertificateFiles } from '../support/tls.js';
import { startWachtpost, type RunningWachtpost } from './harness.js';

const SERVER_NAME = 'dns.example.nl';
const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';

let knot: KnotServer;
let dir: string;
let certificate: CertificateFiles;
const running: RunningWachtpost[] = [];

interface Encrypted {
  wp: RunningWachtpost;
  dot: number;
  doh: number;
  take(): DetectionEvent[];
}

/** A resolver with DoT and DoH in front of Knot; `settings` adds to the encrypted section, `yaml` to the rest. */
async function encrypted(yaml = '', settings = ''): Promise<Encrypted> {
  const hub = new EventHub({ capacity: 4096, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null });
  const wp = await startWachtpost(
    [knot],
    `encrypted:\n  server_name: ${SERVER_NAME}\n${settings}events:\n  fold_window_ms: 0\n${yaml}`,
    { dot: ['127.0.0.1:0'], doh: ['127.0.0.1:0'], tlsCert: certificate.cert, tlsKey: certificate.key },
    hub,
  );
  running.push(wp);
  const { dot, doh } = wp.resolver.encryptedAddresses;
  let next = 1;
  return {
    wp,
    dot: dot[0]!.port,
    doh: doh[0]!.port,
    take: () => {
      const events: DetectionEvent[] = [];
      for (; next < hub.ring.nextId; next++) events.push(hub.ring.get(next)!);
      return events;
    },
  };
}

/** A DoT client on one connection: length-framed queries out, replies collected by ID. */
class DotClient {
  private readonly replies = new Map<number, Buffer>();
  private pending = Buffer.alloc(0);
  readonly socket: tls.TLSSocket;

  constructor(port: number, servername: string) {
    this.socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['dot'] });
    this.socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 2 && this.pending.length >= 2 + this.pending.readUInt16BE(0)) {
        const message = this.pending.subarray(2, 2 + this.pending.readUInt16BE(0));
        this.replies.set(message.readUInt16BE(0), Buffer.from(message));
        this.pending = this.pending.subarray(2 + message.length);
      }
    });
    this.socket.on('error', () => {});
  }

  send(message: Buffer): void {
    const frame = Buffer.alloc(2 + message.length);
    frame.writeUInt16BE(message.length, 0);
    message.copy(frame, 2);
    this.socket.write(frame);
  }

  async reply(id: number, timeoutMs = 5000): Promise<Buffer | null> {
    await eventually(() => this.replies.has(id) || this.socket.destroyed, timeoutMs);
    return this.replies.get(id) ?? null;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-encrypted-'));
  [knot, certificate] = await Promise.all([startKnot(), makeCertificate(dir, SERVER_NAME)]);
}, 30_000);
afterAll(async () => {
  for (const wp of running) await wp.stop();
  await knot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('DNS over TLS (RFC 7858)', () => {
  let server: Encrypted;
  beforeAll(async () => {
    server = await encrypted();
  });

  it('answers kdig +tls over TLS 1.3, padded to 468-byte blocks (RFC 8467)', async () => {
    const { stdout } = await kdig([`@127.0.0.1`, '-p', String(server.dot), '+tls', `+tls-sni=${SERVER_NAME}`, '+padding', 'a.test.wachtpost', 'A']);
    expect(kdigStatus(stdout)).toBe('NOERROR');
    expect(stdout).toMatch(/TLS1\.3/);
    expect(stdout).toMatch(/a\.test\.wachtpost\.\s+\d+\s+IN\s+A\s+192\.0\.2\.10/);
    expect(stdout).toMatch(/PADDING: \d+ B/);
    expect(stdout).toMatch(/Received 468 B/);
  });

  it('answers many queries pipelined on one connection, out of order, and counts one handshake', async () => {
    const before = server.wp.resolver.encrypted.handshakes;
    const names = ['a', 'multi', 'mx', 'txt', 'chain', 'short', 'ttl', 'aaaa'];
    const { stdout } = await kdig([`@127.0.0.1`, '-p', String(server.dot), '+tls', '+keepopen', ...names.flatMap((name) => [`${name}.test.wachtpost`, 'A'])]);
    expect(stdout.match(/status: NOERROR/g)).toHaveLength(names.length);
    expect(server.wp.resolver.encrypted.handshakes - before).toBe(1);

    // Out of order: a miss sent first is answered after a hit sent behind it.
    const client = new DotClient(server.dot, SERVER_NAME);
    await dig({ host: '127.0.0.1', port: server.wp.server.port }, 'a.test.wachtpost', 'A');
    client.send(encodeQuery(`never-${Date.now()}.test.wachtpost`, TYPE.A, { id: 1 }));
    client.send(encodeQuery('a.test.wachtpost', TYPE.A, { id: 2 }));
    const [miss, hit] = await Promise.all([client.reply(1), client.reply(2)]);
    expect(parsePacket(hit!).answers).toHaveLength(1);
    expect(parsePacket(miss!).header.rcode).toBe(3);
    client.socket.destroy();
  });

  it('takes the device from the SNI label under the server name, onto the event, the inventory and a group match', async () => {
    const grouped = await encrypted('policy:\n  groups:\n    - name: mobile\n      organisation: Inspectie\n      devices: ["phone-*"]');
    const { stdout } = await kdig([`@127.0.0.1`, '-p', String(grouped.dot), '+tls', `+tls-sni=Phone-7.${SERVER_NAME}`, TIKTOK, 'A']);
    expect(kdigStatus(stdout)).toBe('NOERROR');
    expect(grouped.take()).toMatchObject([{ qname: TIKTOK, client: '127.0.0.1', device: 'phone-7', group: 'mobile', app: { id: 'tiktok' } }]);
    // The bare server name says nothing of the device.
    await kdig([`@127.0.0.1`, '-p', String(grouped.dot), '+tls', `+tls-sni=${SERVER_NAME}`, TIKTOK, 'A']);
    expect(grouped.take()).toMatchObject([{ device: null, group: null }]);
  });

  it('resumes TLS sessions, also on another worker or instance with the same key', async () => {
    const other = await encrypted();
    /** A TLS 1.3 session ticket from `port`, or whether `session` was resumed there. */
    const connect = (port: number, session?: Buffer) =>
      new Promise<{ ticket: Buffer | null; reused: boolean }>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: SERVER_NAME, rejectUnauthorized: false, ...(session ? { session } : {}) });
        let ticket: Buffer | null = null;
        socket.on('session', (data: Buffer) => (ticket = data));
        socket.once('secureConnect', () => {
          // The ticket comes just after the handshake: ask once so it has surely arrived.
          const query = encodeQuery('a.test.wachtpost', TYPE.A, { id: 9 });
          const frame = Buffer.alloc(2 + query.length);
          frame.writeUInt16BE(query.length, 0);
          query.copy(frame, 2);
          socket.write(frame);
          socket.once('data', () => {
            const reused = socket.isSessionReused();
            socket.destroy();
            resolve({ ticket, reused });
          });
        });
        socket.once('error', reject);
      });
    const first = await connect(server.dot);
    expect(first.reused).toBe(false);
    expect(first.ticket).not.toBeNull();
    expect((await connect(server.dot, first.ticket!)).reused).toBe(true);
    expect((await connect(other.dot, first.ticket!)).reused).toBe(true);
  });

  it('closes a connection whose SNI label is no device id, and counts it', async () => {
    const before = server.wp.resolver.encrypted.invalidDevice;
    for (const sni of [`bad_label.${SERVER_NAME}`, `a.b.${SERVER_NAME}`, `${'x'.repeat(64)}.${SERVER_NAME}`]) {
      const { stdout } = await kdig([`@127.0.0.1`, '-p', String(server.dot), '+tls', `+tls-sni=${sni}`, 'a.test.wachtpost', 'A']);
      expect(kdigStatus(stdout)).toBeNull();
    }
    expect(server.wp.resolver.encrypted.invalidDevice - before).toBe(3);
  });

  it('survives garbage and a stalled handshake, and keeps answering', async () => {
    const garbage = net.connect(server.dot, '127.0.0.1', () => garbage.write(Buffer.alloc(4096, 0x16)));
    garbage.on('error', () => {});
    const staller = net.connect(server.dot, '127.0.0.1', () => staller.write(Buffer.from([0x16, 0x03, 0x01])));
    staller.on('error', () => {});
    expect(await eventually(() => garbage.destroyed || garbage.readableEnded, 5000)).toBe(true);
    const { stdout } = await kdig([`@127.0.0.1`, '-p', String(server.dot), '+tls', 'a.test.wachtpost', 'A']);
    expect(kdigStatus(stdout)).toBe('NOERROR');
    staller.destroy();
    expect(server.wp.resolver.encrypted.handshakeFailures).toBeGreaterThan(0);
  });
});

describe('DNS over HTTPS (RFC 8484)', () => {
  let server: Encrypted;
  let url: string;
  beforeAll(async () => {
    server = await encrypted();
    url = `https://127.0.0.1:${server.doh}/dns-query`;
  });

  it('answers kdig +https (HTTP/2 POST)', async () => {
    const { stdout } = await kdig([`@127.0.0.1`, '-p', String(server.doh), '+https', 'a.test.wachtpost', 'A']);
    expect(kdigStatus(stdout)).toBe('NOERROR');
    expect(stdout).toMatch(/HTTP\/2-POST/);
    expect(stdout).toMatch(/192\.0\.2\.10/);
  });

  it('answers GET with unpadded base64url and POST, as application/dns-message with max-age of the smallest TTL', async () => {
    const query = encodeQuery('ttl.test.wachtpost', TYPE.A, { id: 0 });
    const get = await curl(['--http2', `${url}?dns=${query.toString('base64url')}`]);
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('application/dns-message');
    // The record's TTL is 100; one cached a second ago may say 99.
    expect(Number(/max-age=(\d+)/.exec(get.headers['cache-control']!)?.[1])).toBeGreaterThanOrEqual(99);
    expect(parsePacket(get.body).answers).toMatchObject([{ name: 'ttl.test.wachtpost', address: '192.0.2.51' }]);

    const post = await curl(['--http2', '-H', 'content-type: application/dns-message', '--data-binary', `@${await writeQuery(query)}`, url]);
    expect(post.status).toBe(200);
    expect(parsePacket(post.body).answers).toHaveLength(1);
    const http1 = await curl(['--http1.1', `${url}?dns=${query.toString('base64url')}`]);
    expect(http1.status).toBe(200);
  });

  it('answers each wrong request with its status: 400, 404, 405, 413, 415', async () => {
    const query = encodeQuery('a.test.wachtpost', TYPE.A, { id: 0 }).toString('base64');
    expect((await curl(['--http2', `${url}?dns=${query}==`])).status).toBe(400);
    expect((await curl(['--http2', `${url}?dns=!!!`])).status).toBe(400);
    expect((await curl(['--http2', `${url}?name=a.test.wachtpost`])).status).toBe(400);
    expect((await curl(['--http2', `${url}?dns=AAAA`])).status).toBe(400);
    expect((await curl(['--http2', `https://127.0.0.1:${server.doh}/resolve`])).status).toBe(404);
    const put = await curl(['--http2', '-X', 'PUT', url]);
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('GET, POST');
    const big = join(dir, 'big.bin');
    await import('node:fs/promises').then((fs) => fs.writeFile(big, Buffer.alloc(70_000)));
    expect((await curl(['--http2', '-H', 'content-type: application/dns-message', '--data-binary', `@${big}`, url])).status).toBe(413);
    expect((await curl(['--http2', '-H', 'content-type: text/plain', '--data-binary', 'x', url])).status).toBe(415);
    expect((await curl(['--http2', `${url}/not_a_device?dns=AAAA`])).status).toBe(400);
    expect(server.wp.resolver.encrypted.dohStatuses.get(415)).toBe(1);
  });

  it('takes the device from the path', async () => {
    server.take();
    const query = encodeQuery(TIKTOK, TYPE.A, { id: 0 }).toString('base64url');
    expect((await curl(['--http2', `${url}/iPad-12?dns=${query}`])).status).toBe(200);
    expect(server.take()).toMatchObject([{ qname: TIKTOK, device: 'ipad-12' }]);
  });

  it('withstands a flood of streams and stays up', async () => {
    const session = (await import('node:http2')).connect(`https://127.0.0.1:${server.doh}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    const query = encodeQuery('a.test.wachtpost', TYPE.A, { id: 0 }).toString('base64url');
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 500 }, () => new Promise<void>((resolve) => {
        const stream = session.request({ ':path': `/dns-query?dns=${query}` });
        stream.on('response', (headers) => statuses.push(Number(headers[':status'])));
        stream.on('error', () => resolve());
        stream.on('close', () => resolve());
        stream.resume();
        stream.end();
      })),
    );
    session.destroy();
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0);
    expect((await curl(['--http2', `${url}?dns=${query}`])).status).toBe(200);
  });
});

describe('who may ask over encrypted DNS', () => {
  it('admits a listed device from an address outside the access list, and refuses the rest', async () => {
    const server = await encrypted('access:\n  allow: ["10.0.0.0/8"]\n  devices: ["phone-*"]');
    const ask = async (sni: string) => kdigStatus((await kdig([`@127.0.0.1`, '-p', String(server.dot), '+tls', `+tls-sni=${sni}`, 'a.test.wachtpost', 'A'])).stdout);
    expect(await ask(`phone-7.${SERVER_NAME}`)).toBe('NOERROR');
    expect(await ask(`laptop-1.${SERVER_NAME}`)).toBe('REFUSED');
    expect(await ask(SERVER_NAME)).toBe('REFUSED');
    expect((await dig(server.wp.server, 'a.test.wachtpost', 'A')).status).toBe('REFUSED');
    const query = encodeQuery('a.test.wachtpost', TYPE.A, { id: 0 }).toString('base64url');
    const doh = await curl(['--http2', `https://127.0.0.1:${server.doh}/dns-query/phone-9?dns=${query}`]);
    expect(parsePacket(doh.body).header.rcode).toBe(0);
    const refused = await curl(['--http2', `https://127.0.0.1:${server.doh}/dns-query/laptop-1?dns=${query}`]);
    expect(parsePacket(refused.body).header.rcode).toBe(5);
  });

  it('closes them instead when told to, and believes X-Forwarded-For only from a trusted proxy', async () => {
    const server = await encrypted('access:\n  allow: ["10.0.0.0/8"]', '  unadmitted: close\n  trusted_proxies: ["127.0.0.0/8"]\n');
    const query = encodeQuery('a.test.wachtpost', TYPE.A, { id: 0 }).toString('base64url');
    const url = `https://127.0.0.1:${server.doh}/dns-query?dns=${query}`;
    expect((await curl(['--http2', url])).status).toBe(403);
    expect((await curl(['--http2', '-H', 'x-forwarded-for: 10.1.2.3', url])).status).toBe(200);
    expect((await curl(['--http2', '-H', 'forwarded: for="10.1.2.4:5000"', url])).status).toBe(200);
    expect((await curl(['--http2', '-H', 'x-forwarded-for: not-an-address', url])).status).toBe(400);
    const { stdout } = await kdig([`@127.0.0.1`, '-p', String(server.dot), '+tls', 'a.test.wachtpost', 'A']);
    expect(kdigStatus(stdout)).toBeNull();
  });
});

describe('client certificates (mTLS)', () => {
  it('identify and admit a device whose certificate the device CA signed, from any address; refuse a foreign one', async () => {
    const device = await makeClientCertificate(dir, 'Phone-9', 'mdm');
    const foreign = await makeClientCertificate(dir, 'phone-6', 'foreign');
    const server = await encrypted('access:\n  allow: ["10.0.0.0/8"]', `  client_ca: "${device.ca}"\n`);
    server.take();
    const ask = async (cert: { cert: string; key: string } | null) =>
      kdigStatus((await kdig(['@127.0.0.1', '-p', String(server.dot), '+tls', ...(cert === null ? [] : [`+tls-certfile=${cert.cert}`, `+tls-keyfile=${cert.key}`]), TIKTOK, 'A'])).stdout);
    expect(await ask(device)).toBe('NOERROR');
    expect(server.take()).toMatchObject([{ qname: TIKTOK, device: 'phone-9' }]);
    expect(await ask(null)).toBe('REFUSED');
    // kdig (GnuTLS) offers only a certificate of a CA the server names: the foreign one stays unsent, so unidentified.
    expect(await ask(foreign)).toBe('REFUSED');
    const query = encodeQuery(TIKTOK, TYPE.A, { id: 0 }).toString('base64url');
    const url = `https://127.0.0.1:${server.doh}/dns-query/claimed-1?dns=${query}`;
    const doh = await curl(['--http2', '--cert', device.cert, '--key', device.key, url]);
    expect(parsePacket(doh.body).header.rcode).toBe(0);
    // The certificate outranks the device the path claims.
    expect(server.take()).toMatchObject([{ device: 'phone-9' }]);
    expect((await curl(['--http2', '--cert', foreign.cert, '--key', foreign.key, url])).status).toBe(400);
    expect(parsePacket((await curl(['--http2', url])).body).header.rcode).toBe(5);
  });
});

describe('DDR (RFC 9462)', () => {
  it('designates the DoT and DoH listeners in SVCB for _dns.resolver.arpa, as dig reads it, and never forwards resolver.arpa', async () => {
    const [dot, doh] = [await freePort(), await freePort()];
    const wp = await startWachtpost([knot], `encrypted:\n  server_name: ${SERVER_NAME}`, { dot: [`127.0.0.1:${dot}`], doh: [`127.0.0.1:${doh}`], tlsCert: certificate.cert, tlsKey: certificate.key });
    running.push(wp);
    const ddr = await dig(wp.server, '_dns.resolver.arpa', 'SVCB');
    expect(ddr.status).toBe('NOERROR');
    expect(ddr.answer.map((record) => record.data)).toEqual([
      `1 ${SERVER_NAME}. alpn="dot" port=${dot} ipv4hint=127.0.0.1`,
      `2 ${SERVER_NAME}. alpn="h2" port=${doh} ipv4hint=127.0.0.1 key7="/dns-query{?dns}"`,
    ]);
    for (const [name, type] of [['_dns.resolver.arpa', 'A'], ['x._dns.resolver.arpa', 'SVCB'], ['resolver.arpa', 'SOA']]) {
      const other = await dig(wp.server, name!, type!);
      expect([other.status, other.answer.length], name).toEqual(['NOERROR', 0]);
    }
  });

  it('answers no data when no encrypted listener is configured', async () => {
    const wp = await startWachtpost([knot]);
    running.push(wp);
    const ddr = await dig(wp.server, '_dns.resolver.arpa', 'SVCB');
    expect([ddr.status, ddr.answer.length]).toEqual(['NOERROR', 0]);
  });
});

describe('certificates', () => {
  it('reload on file change without dropping the connections already open, which keep asking throughout', async () => {
    const own = await mkdtemp(join(tmpdir(), 'wachtpost-renew-'));
    const first = await makeCertificate(own, SERVER_NAME);
    const hub = new EventHub({ capacity: 64, firstId: 1, residualWindowMs: 60_000, pseudonymiser: null });
    const wp = await startWachtpost([knot], `encrypted:\n  server_name: ${SERVER_NAME}`, { dot: ['127.0.0.1:0'], doh: ['127.0.0.1:0'], tlsCert: first.cert, tlsKey: first.key }, hub);
    running.push(wp);
    const { dot, doh } = wp.resolver.encryptedAddresses;
    expect(await presentedFingerprint(dot[0]!.port, SERVER_NAME)).toBe(await fileFingerprint(first.cert));
    const client = new DotClient(dot[0]!.port, SERVER_NAME);
    client.send(encodeQuery('a.test.wachtpost', TYPE.A, { id: 1 }));
    expect(await client.reply(1)).not.toBeNull();

    // Under load: the open connection keeps asking while the certificate is replaced (at most
    // one query per 5 ms for the 20 s the checks below may take).
    const sent: number[] = [];
    const load = setInterval(() => {
      const id = 2 + sent.length;
      client.send(encodeQuery('a.test.wachtpost', TYPE.A, { id }));
      sent.push(id);
    }, 5);
    const renewed = await makeCertificate(own, SERVER_NAME);
    const expected = await fileFingerprint(renewed.cert);
    const dotRenewed = await eventually(async () => (await presentedFingerprint(dot[0]!.port, SERVER_NAME)) === expected, 10_000);
    const dohRenewed = await eventually(async () => (await presentedFingerprint(doh[0]!.port, SERVER_NAME)) === expected, 10_000);
    clearInterval(load);
    expect([dotRenewed, dohRenewed]).toEqual([true, true]);
    // The connection made before the renewal answered every query sent across it.
    expect(sent.length).toBeGreaterThan(10);
    const unanswered = [];
    for (const id of sent) if ((await client.reply(id)) === null) unanswered.push(id);
    expect(unanswered).toEqual([]);
    client.socket.destroy();
    await rm(own, { recursive: true, force: true });
  }, 30_000);
});

describe('dnsperf over DoT and DoH', () => {
  it('gets every answer of a short bounded run in each mode', async () => {
    const server = await encrypted();
    const queries = join(dir, 'queries.txt');
    await import('node:fs/promises').then((fs) => fs.writeFile(queries, 'a.test.wachtpost A\nmulti.test.wachtpost A\nmx.test.wachtpost MX\n'));
    for (const [mode, port] of [['dot', server.dot], ['doh', server.doh]] as const) {
      const output = await new Promise<string>((resolve) => {
        // dnsperf 2.10's DoH takes one response per read ("need to be able to receive multiple
        // responses at the same time" in its source): one query outstanding there.
        const outstanding = mode === 'doh' ? ['-q', '1'] : ['-c', '2'];
        execFile('dnsperf', ['-m', mode, '-s', '127.0.0.1', '-p', String(port), '-d', queries, '-n', '100', '-l', '20', ...outstanding], { timeout: 30_000 }, (_error, stdout) =>
          resolve(stdout),
        );
      });
      expect(output, mode).toMatch(/Queries sent:\s+300/);
      expect(output, mode).toMatch(/Queries completed:\s+300 \(100\.00%\)/);
    }
  }, 60_000);
});

async function writeQuery(query: Buffer): Promise<string> {
  const file = join(dir, `query-${query.readUInt16BE(0)}-${Date.now()}.bin`);
  await import('node:fs/promises').then((fs) => fs.writeFile(file, query));
  return file;
}
