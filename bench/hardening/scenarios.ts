/**
 * The attacks of the hardening issue, each against a fresh `wachtpost serve`, each reporting
 * the figures the issue quotes (memory, slots, answers). `after` adds the settings that only
 * the hardened build knows (a byte bound small enough to reach, a client outside the
 * rate-limit exemption); everything else runs on the defaults.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import net from 'node:net';
import { dig } from '../../test/support/dig.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../../test/support/scripted-upstream.js';
import { connect, framedQuery, openIdle, slowloris, unreadPipeline } from '../../test/support/hostile-tcp.js';
import type { Server } from '../throughput/peers.js';
import { cpuSeconds } from '../throughput/procstat.js';
import { udpStream } from '../../test/support/udp-load.js';
import { encodeQuery } from '../../test/support/packets.js';
import { ask } from './client.js';
import { BIG_SUFFIX, HUGE, SHORT_TTL_NAMES, ZONE, metric, mib, sleep, startServer, statusKb, workerPids } from './servers.js';

export interface Context {
  dir: string;
  knot: Server;
  after: boolean;
}

export type Figures = Record<string, number | string | boolean | null>;

const TXT = 16;
const WWW = `www.${ZONE}`;
const target = (server: Server): { host: string; port: number } => ({ host: '127.0.0.1', port: server.port });

async function withServer<T>(server: Server, body: (server: Server) => Promise<T>): Promise<T> {
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

/** 8,000 pipelined queries for a cached 50 kB TXT on one connection, never read. */
export async function unreadTcp(context: Context): Promise<Figures> {
  const server = await startServer('unread-tcp', context.dir, context.knot.port, 1, {});
  return withServer(server, async () => {
    const primed = await dig(target(server), HUGE, 'TXT', { tcp: true });
    const [worker] = workerPids(server);
    const before = statusKb(worker!, 'VmRSS');
    const socket = await unreadPipeline(target(server), HUGE, TXT, 8000);
    let peak = before;
    for (let i = 0; i < 40; i++) {
      await sleep(500);
      peak = Math.max(peak, statusKb(worker!, 'VmRSS'));
    }
    socket?.destroy();
    return {
      'cached answer bytes': primed.msgSize,
      'worker RSS before, MiB': mib(before),
      'worker RSS peak within 20 s, MiB': mib(peak),
      'growth, MiB': mib(peak - before),
    };
  });
}

/** 2,100 idle connections from outside the ACL, a slow sender, and idle connections that never close. */
export async function tcpSlots(context: Context): Promise<Figures> {
  const figures: Figures = {};
  // 127.0.0.3 is outside; 127.0.0.1 (the harness's readiness probe) and 127.0.0.2 are inside.
  const acl = await startServer('tcp-slots', context.dir, context.knot.port, 1, { access: { allow: ['127.0.0.1/32', '127.0.0.2/32'] } });
  await withServer(acl, async () => {
    const outsiders = await openIdle(target(acl), 2100, '127.0.0.3');
    await sleep(2000);
    figures['outsider connections still open after 2 s (of 2,100)'] = outsiders.open;
    const allowed = await dig(target(acl), WWW, 'A', { tcp: true, extra: ['-b', '127.0.0.2'], timeoutSeconds: 3 });
    figures['allowed client over TCP meanwhile'] = allowed.status;
    outsiders.closeAll();
    const slow = await slowloris(target(acl), 500, 20_000, '127.0.0.2');
    figures['slow sender (1 byte / 500 ms) closed after, ms (null: open at 20 s)'] = slow;
  });
  const small = await startServer('tcp-idle', context.dir, context.knot.port, 1, { dns: { tcp: { max_connections: 5, idle_timeout_ms: 1000 } } });
  await withServer(small, async () => {
    const idle = await openIdle(target(small), 5, '127.0.0.2');
    await sleep(3000);
    figures['idle connections told FIN by the server (of 5)'] = idle.closedByServer;
    const fresh = await dig(target(small), WWW, 'A', { tcp: true, timeoutSeconds: 3 });
    figures['new TCP client after the idle timeout (5 slots, 5 idle never closing)'] = fresh.status;
    idle.closeAll();
  });
  return figures;
}

/** Connections on TCP sockets of `port` in `state`, counted by ss. */
function socketsIn(state: string, port: number): number {
  const out = execFileSync('ss', ['-Htan', 'state', state, `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).length;
}

/** Client `i` (an address of its own) connects, asks once, waits up to 1 s for the answer and closes: true when answered. */
async function briefClient(server: Server, i: number): Promise<boolean> {
  const socket = await connect(target(server), `127.0.2.${i + 1}`, 1000);
  if (socket === null) return false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), 1000);
    const finish = (answered: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    socket.on('data', () => finish(true));
    socket.on('error', () => finish(false));
    socket.on('end', () => finish(false));
    socket.write(framedQuery(WWW, 1, i));
  });
}

/**
 * 2 workers capped at 100 connections each, 2,100 idle connections from 105 addresses that
 * stay, and meanwhile 100 clients that each ask once and give up after a second.
 */
export async function primaryParking(context: Context): Promise<Figures> {
  const server = await startServer('primary-parking', context.dir, context.knot.port, 2, { dns: { tcp: { max_connections: 100 } } });
  return withServer(server, async () => {
    const cpu0 = cpuSeconds([server.pid]);
    const t0 = performance.now();
    const attackers = await Promise.all(Array.from({ length: 105 }, (_, i) => openIdle(target(server), 20, `127.0.1.${i + 1}`, 20)));
    await sleep(10_000);
    const cpu1 = cpuSeconds([server.pid]);
    const t1 = performance.now();
    const open = attackers.reduce((sum, idle) => sum + idle.open, 0);
    const figures: Figures = {
      'attacker connections the attacker saw open after 10 s (of 2,100)': open,
      'primary CPU % of a core while they arrive and wait (10 s)': Math.round(((cpu1 - cpu0) / ((t1 - t0) / 1000)) * 100),
      'ESTABLISHED on the port': socketsIn('established', server.port),
    };
    const answered = await Promise.all(Array.from({ length: 100 }, (_, i) => briefClient(server, i)));
    figures['brief clients answered (of 100)'] = answered.filter(Boolean).length;
    await sleep(2000);
    figures['CLOSE-WAIT 2 s after the brief clients gave up'] = socketsIn('close-wait', server.port);
    const cpu2 = cpuSeconds([server.pid]);
    const t2 = performance.now();
    figures['primary CPU % of a core meanwhile'] = Math.round(((cpu2 - cpu1) / ((t2 - t1) / 1000)) * 100);
    for (const idle of attackers) idle.closeAll();
    // A flood of connections that open and close at once: what accepting costs the primary.
    let next = 0;
    const flood = async (): Promise<void> => {
      while (next++ < 10_000) (await connect(target(server), `127.0.3.${(next % 250) + 1}`, 2000))?.destroy();
    };
    await Promise.all(Array.from({ length: 100 }, flood));
    const cpu3 = cpuSeconds([server.pid]);
    const seconds = (performance.now() - t2) / 1000;
    figures['flood of 10,000 connect + close (100 at a time): connections/s'] = Math.round(10_000 / seconds);
    figures['flood: primary CPU % of a core'] = Math.round(((cpu3 - cpu2) / seconds) * 100);
    return figures;
  });
}

/** 40,000 different names each answered with about 4 kB of TXT, then 40,000 more. */
export async function cacheBytes(context: Context): Promise<Figures> {
  const settings = { dns: { udp_size: 4096 }, ...(context.after ? { cache: { max_bytes: 64 * 1024 * 1024 } } : {}) };
  const server = await startServer('cache-bytes', context.dir, context.knot.port, 1, settings);
  return withServer(server, async () => {
    const [worker] = workerPids(server);
    const before = statusKb(worker!, 'VmRSS');
    const first = await udpStream(server.port, 40_000, 200, (i) => `q${i}.${BIG_SUFFIX}`, TXT, { timeoutMs: 300_000 });
    const middle = statusKb(worker!, 'VmRSS');
    const figures: Figures = {
      'queries answered': first.sent - first.unanswered,
      'cache.max_bytes': context.after ? '64 MiB' : 'none',
      'cache entries': await metric(server, 'wachtpost_cache_entries'),
      'answer bytes (metric), MiB': mib((await metric(server, 'wachtpost_cache_answer_bytes')) / 1024),
      'worker RSS before, MiB': mib(before),
      'worker RSS after, MiB': mib(middle),
      'growth, MiB': mib(middle - before),
    };
    const second = await udpStream(server.port, 40_000, 200, (i) => `r${i}.${BIG_SUFFIX}`, TXT, { timeoutMs: 300_000 });
    const after = statusKb(worker!, 'VmRSS');
    figures['40,000 more: answered'] = second.sent - second.unanswered;
    figures['40,000 more: cache entries'] = await metric(server, 'wachtpost_cache_entries');
    figures['40,000 more: answer bytes, MiB'] = mib((await metric(server, 'wachtpost_cache_answer_bytes')) / 1024);
    figures['40,000 more: further growth, MiB'] = mib(after - middle);
    return figures;
  });
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)]!);
}

/** 40 names cached across 2 workers, then the upstream stops answering (SIGSTOP). */
export async function serveStale(context: Context): Promise<Figures> {
  const server = await startServer('serve-stale', context.dir, context.knot.port, 2, { cache: { prefetch: { enabled: false } } });
  return withServer(server, async () => {
    const names = Array.from({ length: SHORT_TTL_NAMES }, (_, i) => `s${i}.${ZONE}`);
    await Promise.all(names.map((name) => ask(server.port, name)));
    await sleep(2500);
    process.kill(context.knot.pid, 'SIGSTOP');
    try {
      const figures: Figures = {};
      for (const pass of ['first', 'second']) {
        const replies = await Promise.all(names.map((name) => ask(server.port, name, { timeoutMs: 5000 })));
        const stale = replies.filter((reply) => reply?.rcode === 0);
        figures[`${pass} pass: SERVFAIL of 40`] = replies.filter((reply) => reply?.rcode === 2).length;
        figures[`${pass} pass: stale answers`] = stale.length;
        figures[`${pass} pass: stale answers tagged EDE 3`] = stale.filter((reply) => reply!.ede === 3).length;
        figures[`${pass} pass: median ms of a stale answer`] = median(stale.map((reply) => reply!.ms));
      }
      return figures;
    } finally {
      process.kill(context.knot.pid, 'SIGCONT');
    }
  });
}

const scriptedRecords = { 'n0.bench.wachtpost': [{ type: 'A' as const, ttl: 3600, data: '192.0.2.1' }] };

async function withScripted<T>(body: (upstream: ScriptedUpstream) => Promise<T>): Promise<T> {
  const upstream = await startScriptedUpstream({ records: scriptedRecords });
  try {
    return await body(upstream);
  } finally {
    await upstream.stop();
  }
}

/** An upstream that answers every query after 1.5 s. */
export async function slowUpstream(context: Context): Promise<Figures> {
  return withScripted(async (upstream) => {
    const server = await startServer('slow-upstream', context.dir, upstream.port, 1, {});
    return withServer(server, async () => {
      upstream.setBehaviour({ delayMs: 1500 });
      const before = upstream.queries.length;
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(server.port, `slow${i}.test.wachtpost`, { timeoutMs: 5000 })));
      return {
        'answered (NXDOMAIN from the upstream) of 10': replies.filter((reply) => reply?.rcode === 3).length,
        'SERVFAIL of 10': replies.filter((reply) => reply?.rcode === 2).length,
        'upstream queries per client query': (upstream.queries.length - before) / 10,
      };
    });
  });
}

/** One allowed source sending as fast as dnsperf can for 10 s, and another client meanwhile. */
export async function rateLimit(context: Context): Promise<Figures> {
  const settings = context.after ? { rate_limit: { exempt: ['127.0.0.1/32'] } } : {};
  const server = await startServer('rate-limit', context.dir, context.knot.port, 1, settings);
  return withServer(server, async () => {
    await ask(server.port, WWW);
    const file = `${context.dir}/rate-queries.txt`;
    execFileSync('sh', ['-c', `echo "${WWW} A" > ${file}`]);
    const other = udpStream(server.port, 100, 1, () => WWW, 1, { localAddress: '127.0.0.3', timeoutMs: 20_000 });
    const run = spawnSync('dnsperf', ['-s', '127.0.0.1', '-p', String(server.port), '-a', '127.0.0.2', '-d', file, '-l', '10', '-c', '1', '-q', '100', '-t', '1', '-Q', '50000'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const text = run.stdout;
    const number = (label: string): number => Number(new RegExp(`${label}:\\s+([\\d.]+)`).exec(text)?.[1] ?? NaN);
    const rcodes = /Response codes:\s+(.*)/.exec(text)?.[1] ?? '';
    const second = await other;
    return {
      'queries sent': number('Queries sent'),
      'response codes': rcodes,
      'lost (dropped)': number('Queries lost'),
      'other client: NOERROR of 100': second.byRcode[0] ?? 0,
      'rate-limited (metric)': context.after ? await metric(server, 'wachtpost_rate_limited_total') : null,
    };
  });
}

/** A raw UDP exchange; the reply's bytes or null. */
function rawUdp(port: number, message: Buffer): Promise<Buffer | null> {
  return import('node:dgram').then(
    ({ default: dgram }) =>
      new Promise((resolve) => {
        const socket = dgram.createSocket('udp4');
        const timer = setTimeout(() => {
          socket.close();
          resolve(null);
        }, 2000);
        socket.on('message', (reply) => {
          clearTimeout(timer);
          socket.close();
          resolve(reply);
        });
        socket.send(message, port, '127.0.0.1');
      }),
  );
}

/** Queries sent, then FIN: how many replies come back before the server closes. */
function halfClosed(port: number, names: string[]): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let pending = Buffer.alloc(0);
    let replies = 0;
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('connect', () => {
      socket.end(Buffer.concat(names.map((name, i) => framedQuery(name, 1, i + 1))));
    });
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies++;
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
  });
}

/** CHAOS identity, the AA flag, FORMERR with EDNS, RD=0, a half-closed TCP client and 0x20. */
export async function protocol(context: Context): Promise<Figures> {
  const figures: Figures = {};
  const server = await startServer('protocol', context.dir, context.knot.port, 1, {});
  await withServer(server, async () => {
    for (const name of ['version.bind', 'hostname.bind', 'id.server']) {
      const reply = await dig(target(server), name, 'TXT', { extra: ['-c', 'CH'] });
      figures[`${name} CH TXT`] = `${reply.status} ${reply.answer.map((record) => record.data).join(' ')}`.trim();
    }
    const aa = await dig(target(server), WWW, 'A');
    figures['AA flag on a forwarded answer'] = aa.flags.has('aa');
    const one = encodeQuery(WWW, 1, { id: 0x4242 });
    const question = one.subarray(12, one.length - 11);
    const twoQuestions = Buffer.concat([one.subarray(0, 12), question, question, one.subarray(one.length - 11)]);
    twoQuestions.writeUInt16BE(2, 4);
    const formerr = await rawUdp(server.port, twoQuestions);
    figures['FORMERR to an EDNS query with QDCOUNT 2: carries OPT'] = formerr === null ? null : formerr.readUInt16BE(10) > 0;
  });
  await withScripted(async (upstream) => {
    const scripted = await startServer('protocol-scripted', context.dir, upstream.port, 1, {});
    await withServer(scripted, async () => {
      const before = upstream.queries.length;
      await dig(target(scripted), 'rd0.test.wachtpost', 'A', { extra: ['+norecurse'] });
      figures['RD=0 query forwarded upstream'] = upstream.queries.length > before;
      upstream.setBehaviour({ delayMs: 300 });
      figures['half-closed TCP client: replies of 3 that needed the upstream'] = await halfClosed(scripted.port, ['h1.test.wachtpost', 'h2.test.wachtpost', 'h3.test.wachtpost']);
      upstream.setBehaviour('answer');
      const mixed = upstream.queries.slice(before).filter((query) => /[A-Z]/.test(query.name)).length;
      figures['upstream queries in mixed case (0x20)'] = `${mixed} of ${upstream.queries.length - before}`;
    });
  });
  return figures;
}

export const SCENARIOS: Record<string, (context: Context) => Promise<Figures>> = {
  'unread-tcp': unreadTcp,
  'tcp-slots': tcpSlots,
  'primary-parking': primaryParking,
  'cache-bytes': cacheBytes,
  'serve-stale': serveStale,
  'slow-upstream': slowUpstream,
  'rate-limit': rateLimit,
  protocol,
};
