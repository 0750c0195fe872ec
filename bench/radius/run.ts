/**
 * RADIUS accounting, measured (`node --import tsx bench/radius/run.ts`, after `npm run build`):
 *
 * 1. The npm `radius` package against Wachtpost's reader on the same packets (encoded by
 *    `radius` itself): hostile ones (a changed authenticator, an attribute running past the
 *    end, truncated headers) and the speed of reading valid ones.
 * 2. A served node's listener under a flood of Interim-Updates for 10,000 sessions from
 *    four sockets, 64 requests outstanding each, for 5 s: answers per second and the CPU
 *    the primary (listener and table) and the workers (their copies) spend per packet.
 *
 * Only loopback. Results in bench/results/radius.json.
 */
import { createHash } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AccountingRejected, Attribute, readAccountingRequest } from '../../src/radius/accounting-packet.js';
import { startServer, startUpstream, workerPids } from '../hardening/servers.js';
import { cpuSeconds } from '../throughput/procstat.js';

const radius = createRequire(import.meta.url)('radius') as {
  encode(args: { code: string; identifier: number; attributes: [string, unknown][]; secret: string }): Buffer;
  decode(args: { packet: Buffer; secret: string }): unknown;
};

const SECRET = 'radius-benchmark-shared-secret-01';
const secret = Buffer.from(SECRET);
const SESSIONS = 10_000;
const SOCKETS = 4;
const OUTSTANDING = 64;
const LOAD_MS = 5000;

/** An Accounting-Request of session `n` (address 10.64.x.y, device phone-n), as a concentrator sends it. */
function accounting(status: 'Start' | 'Interim-Update', n: number, identifier: number): Buffer {
  return radius.encode({
    code: 'Accounting-Request',
    identifier,
    secret: SECRET,
    attributes: [
      ['Acct-Status-Type', status],
      ['User-Name', `phone-${n}`],
      ['Framed-IP-Address', `10.64.${(n >> 8) & 255}.${n & 255}`],
      ['Acct-Session-Id', `session-${n}`],
      ['NAS-IP-Address', '127.0.0.1'],
      ['Acct-Input-Octets', 123_456],
      ['Acct-Output-Octets', 654_321],
    ],
  });
}

/** What `read` makes of a packet: accepted, refused (our reader's way), or threw something else. */
function verdict(read: () => unknown): 'accepted' | 'refused' | 'threw' {
  try {
    return read() === undefined ? 'refused' : 'accepted';
  } catch (error) {
    return error instanceof AccountingRejected || (error as Error).name === 'InvalidSecretError' || /decode:/.test((error as Error).message) ? 'refused' : 'threw';
  }
}

function resign(packet: Buffer): Buffer {
  const copy = Buffer.from(packet);
  copy.fill(0, 4, 20);
  // MD5 over the packet with a zero authenticator, then the secret (RFC 2866 §3).
  createHash('md5').update(copy).update(secret).digest().copy(copy, 4);
  return copy;
}

function probe(): Record<string, unknown> {
  const theirs = (packet: Buffer) => verdict(() => radius.decode({ packet: Buffer.from(packet), secret: SECRET }));
  const ours = (packet: Buffer) => verdict(() => readAccountingRequest(packet, secret, Attribute.USER_NAME));
  const tally = (packets: Buffer[], read: (packet: Buffer) => string) => {
    const counts: Record<string, number> = {};
    for (const packet of packets) counts[read(packet)] = (counts[read(packet)] ?? 0) + 1;
    return counts;
  };
  // Every authenticator byte of 1,000 packets changed in its lowest bit: each must be refused.
  const forged: Buffer[] = [];
  for (let n = 0; n < 1000; n++) {
    const packet = accounting('Interim-Update', n, n & 255);
    for (let at = 4; at < 20; at++) {
      const copy = Buffer.from(packet);
      copy[at] = copy[at]! ^ 1;
      forged.push(copy);
    }
  }
  // The last attribute claims 40 octets more than the packet holds; signed correctly.
  const overrun = Array.from({ length: 1000 }, (_, n) => {
    const packet = Buffer.concat([accounting('Interim-Update', n, n & 255), Buffer.from([1, 42, 0x61, 0x62])]);
    packet.writeUInt16BE(packet.length, 2);
    return resign(packet);
  });
  const truncated = Array.from({ length: 16 }, (_, length) => accounting('Interim-Update', 1, 1).subarray(0, 4 + length));
  const valid = Array.from({ length: 1000 }, (_, n) => accounting('Interim-Update', n, n & 255));
  const speed = (read: (packet: Buffer) => unknown) => {
    const started = process.hrtime.bigint();
    let done = 0;
    while (process.hrtime.bigint() - started < 1_000_000_000n) for (const packet of valid) (read(packet), done++);
    return Math.round(done / (Number(process.hrtime.bigint() - started) / 1e9));
  };
  return {
    'changed authenticator byte (16,000 packets)': { radius: tally(forged, theirs), wachtpost: tally(forged, ours) },
    'attribute past the end, correctly signed (1,000)': { radius: tally(overrun, theirs), wachtpost: tally(overrun, ours) },
    'header cut to 4..19 octets (16)': { radius: tally(truncated, theirs), wachtpost: tally(truncated, ours) },
    'valid packets read per second': {
      radius: speed((packet) => radius.decode({ packet, secret: SECRET })),
      wachtpost: speed((packet) => readAccountingRequest(packet, secret, Attribute.USER_NAME)),
    },
  };
}

async function load(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-radius-bench-'));
  const knot = await startUpstream(dir);
  const radiusPort = 20_000 + Math.floor(Math.random() * 10_000);
  await writeFile(join(dir, 'radius.secret'), SECRET);
  const server = await startServer('radius', dir, knot.port, 2, {
    identity: { radius: { listen: `127.0.0.1:${radiusPort}`, secret_file: join(dir, 'radius.secret'), max_sessions: SESSIONS * 2 } },
  });
  try {
    // Start every session once, then keep them alive with Interim-Updates.
    const starts = Array.from({ length: SESSIONS }, (_, n) => accounting('Start', n, n & 255));
    const updates = Array.from({ length: SESSIONS }, (_, n) => accounting('Interim-Update', n, n & 255));
    const sockets: Socket[] = [];
    let answered = 0;
    let next = 0;
    let queue = starts;
    let stopAt = Number.POSITIVE_INFINITY;
    const send = (socket: Socket) => {
      if (Date.now() >= stopAt) return;
      const packet = queue[next++ % queue.length]!;
      socket.send(packet, radiusPort, '127.0.0.1');
    };
    for (let s = 0; s < SOCKETS; s++) {
      const socket = createSocket('udp4');
      socket.on('message', () => {
        answered++;
        send(socket);
      });
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      sockets.push(socket);
    }
    const waitFor = async (count: number, limitMs: number) => {
      const deadline = Date.now() + limitMs;
      while (answered < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    for (const socket of sockets) for (let i = 0; i < OUTSTANDING; i++) send(socket);
    await waitFor(SESSIONS, 30_000);
    // A Start lost on the way is sent again as the queue wraps; wait until every session is held.
    let sessions = await scrapeSessions(server.httpPort!);
    for (const deadline = Date.now() + 10_000; sessions < SESSIONS && Date.now() < deadline; sessions = await scrapeSessions(server.httpPort!)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The measured part: Interim-Updates only.
    queue = updates;
    next = 0;
    const pids = { primary: [server.pid], workers: workerPids(server) };
    const cpu = { primary: cpuSeconds(pids.primary), workers: cpuSeconds(pids.workers) };
    const before = answered;
    const started = Date.now();
    stopAt = started + LOAD_MS;
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS + 200));
    const seconds = (Date.now() - started) / 1000;
    const count = answered - before;
    const used = { primary: cpuSeconds(pids.primary) - cpu.primary, workers: cpuSeconds(pids.workers) - cpu.workers };
    for (const socket of sockets) socket.close();
    return {
      'sessions after the Starts (wachtpost_radius_sessions)': sessions,
      'Interim-Updates answered per second': Math.round(count / seconds),
      'primary CPU µs per packet (listener, table)': Math.round((used.primary / count) * 1e7) / 10,
      'workers CPU µs per packet (their copies)': Math.round((used.workers / count) * 1e7) / 10,
      'primary CPU % of a core': Math.round((used.primary / seconds) * 100),
    };
  } finally {
    await server.stop();
    await knot.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function scrapeSessions(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(/^wachtpost_radius_sessions (\d+)/m.exec(text)?.[1] ?? NaN);
}

const results = { date: new Date().toISOString(), node: process.version, codec: probe(), listener: await load() };
const out = fileURLToPath(new URL('../results/radius.json', import.meta.url));
await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\nwritten to ${out}\n`);
