import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, rawQuery } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/served.js';
import { makeCertificate, type CertificateFiles } from '../support/tls.js';
import { startEncryptedUnbound, UNBOUND_ADDRESS, UNBOUND_NAME, type EncryptedUnbound } from '../support/unbound.js';
import { startWachtpost, type RunningWachtpost } from './harness.js';

const NAME = 'upstream.example.nl';

let dir: string;
let certificate: CertificateFiles;
let knot: KnotServer;
let unbound: EncryptedUnbound;
let tlsPort: number;
let httpsPort: number;
const running: RunningWachtpost[] = [];

async function forwardingTo(servers: string[], timeoutMs = 2000, attemptMs = Math.min(700, timeoutMs)): Promise<RunningWachtpost> {
  const wp = await startWachtpost([], `upstream:\n  ca_file: "${certificate.cert}"\n  timeout_ms: ${timeoutMs}\n  attempt_timeout_ms: ${attemptMs}`, {
    upstream: servers,
  });
  running.push(wp);
  return wp;
}

/** Established TCP connections to `port` on loopback, as the kernel lists them. */
function connectionsTo(port: number): Promise<number> {
  return new Promise((resolve) => {
    execFile('ss', ['-tnH', 'state', 'established', `( dport = :${port} )`], (_error, stdout) => resolve(stdout.split('\n').filter((line) => line.trim() !== '').length));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-upstream-tls-'));
  [certificate, knot, tlsPort, httpsPort] = await Promise.all([makeCertificate(dir, NAME, 'upstream'), startKnot(), freePort(), freePort()]);
  unbound = await startEncryptedUnbound(dir, certificate, tlsPort, httpsPort);
}, 40_000);
afterAll(async () => {
  for (const wp of running) await wp.stop();
  await unbound?.stop();
  await knot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('forwarding over DNS over TLS and HTTPS to a real unbound', () => {
  it('answers through tls:// and https://, the certificate checked against the name given', async () => {
    for (const server of [`tls://127.0.0.1:${tlsPort}#${NAME}`, `https://127.0.0.1:${httpsPort}/dns-query#${NAME}`]) {
      const wp = await forwardingTo([server]);
      const answer = await dig(wp.server, UNBOUND_NAME, 'A');
      expect(answer.status, server).toBe('NOERROR');
      expect(answer.answer.map((record) => record.data), server).toEqual([UNBOUND_ADDRESS]);
      expect(wp.resolver.upstreamServers.map((entry) => entry.label)).toEqual([server]);
    }
  });

  it('pipelines many queries over one connection', async () => {
    // Generous deadlines: 40 queries at once on a busy 2-core CI machine can take a while,
    // and a retry would open a second connection, which is not what is tested here.
    const wp = await forwardingTo([`tls://127.0.0.1:${tlsPort}#${NAME}`], 6000, 5000);
    const before = await connectionsTo(tlsPort);
    // Distinct names (NXDOMAIN from unbound's static zone): every one a miss, all at once.
    // Sent from sockets of this process, not dig: see rawQuery.
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) => rawQuery(wp.server, encodeQuery(`n${i}.upstream.test`, TYPE.A, { id: i }), { timeoutMs: 8000 })),
    );
    // Each outcome shown (ID and rcode; 3 is NXDOMAIN), so a failure says which queries went wrong and how.
    const outcomes = replies.map((reply) => (reply === null ? 'timeout' : `id ${reply.readUInt16BE(0)} rcode ${reply[3]! & 0x0f}`));
    expect(outcomes).toEqual(replies.map((_, i) => `id ${i} rcode 3`));
    expect((await connectionsTo(tlsPort)) - before).toBe(1);
    // The test's own limit above the 8 s wait, or the deadlines above are cut short at vitest's 5 s.
  }, 15_000);

  it('refuses a certificate for another name, says so in the health, and never answers from it', async () => {
    const wp = await forwardingTo([`tls://127.0.0.1:${tlsPort}#wrong.example.org`], 1000);
    expect((await dig(wp.server, UNBOUND_NAME, 'A')).status).toBe('SERVFAIL');
    expect(await eventually(() => wp.resolver.upstreamFailing !== null, 5000)).toBe(true);
    expect(wp.resolver.upstreamFailing).toMatch(/wrong\.example\.org|altnames|certificate/i);
    // Without the CA, the system store does not know the self-signed certificate either.
    const noCa = await startWachtpost([], 'upstream:\n  timeout_ms: 1000', { upstream: [`https://127.0.0.1:${httpsPort}#${NAME}`] });
    running.push(noCa);
    expect((await dig(noCa.server, UNBOUND_NAME, 'A')).status).toBe('SERVFAIL');
  });

  it('fails over to a plain upstream when the encrypted one is down', async () => {
    const dead = await freePort();
    const wp = await forwardingTo([`tls://127.0.0.1:${dead}#${NAME}`, `${knot.host}:${knot.port}`]);
    const answer = await dig(wp.server, 'a.test.wachtpost', 'A');
    expect(answer.status).toBe('NOERROR');
    expect(answer.answer.map((record) => record.data)).toEqual(['192.0.2.10']);
  });

  it('reconnects after the server restarts', async () => {
    const ports = [await freePort(), await freePort()] as const;
    let own = await startEncryptedUnbound(dir, certificate, ...ports);
    const wp = await forwardingTo([`tls://127.0.0.1:${ports[0]}#${NAME}`, `https://127.0.0.1:${ports[1]}#${NAME}`], 1000);
    expect((await dig(wp.server, 'r1.upstream.test', 'A')).status).toBe('NXDOMAIN');
    await own.stop();
    expect((await dig(wp.server, 'r2.upstream.test', 'A')).status).toBe('SERVFAIL');
    own = await startEncryptedUnbound(dir, certificate, ...ports);
    let n = 3;
    expect(await eventually(async () => (await dig(wp.server, `r${n++}.upstream.test`, 'A')).status === 'NXDOMAIN', 15_000)).toBe(true);
    await own.stop();
  }, 40_000);
});

describe('a hostile TLS upstream', () => {
  it('never hangs or crashes the resolver: garbage, an absurd length and a stall each end in SERVFAIL within the deadline', async () => {
    const behaviours = ['garbage', 'oversize', 'stall'] as const;
    let next = 0;
    const server = tls.createServer({ cert: await import('node:fs/promises').then((fs) => fs.readFile(certificate.cert)), key: await import('node:fs/promises').then((fs) => fs.readFile(certificate.key)) }, (socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        const behaviour = behaviours[next++ % behaviours.length];
        if (behaviour === 'garbage') socket.write(Buffer.alloc(300, 0xff));
        else if (behaviour === 'oversize') socket.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
      });
    });
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    const wp = await forwardingTo([`tls://127.0.0.1:${port}#${NAME}`], 1000);
    for (let i = 0; i < behaviours.length; i++) {
      const started = Date.now();
      expect((await dig(wp.server, `h${i}.upstream.test`, 'A')).status).toBe('SERVFAIL');
      expect(Date.now() - started).toBeLessThan(3000);
    }
    // Still serving: a question it answers itself comes back at once.
    expect((await dig(wp.server, 'version.bind', 'TXT', { extra: ['-c', 'CH'] })).status).toBe('REFUSED');
    server.close();
  }, 30_000);
});
