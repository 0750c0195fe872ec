import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/http/auth.js';
import { dig } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { freePort } from '../support/ports.js';
import { childPids, eventually, scrape } from '../support/served.js';
import { spawnWachtpost, type ServedProcess } from './harness.js';

const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'radius-secret-for-these-tests-0123';
const ANALYST = 'analyst-token-0123456789abcdef';

let knot: KnotServer;
let dir: string;
let node: ServedProcess;
let radiusPort: number;

beforeAll(async () => {
  knot = await startKnot();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-radius-'));
  radiusPort = await freePort();
  const file = join(dir, 'wachtpost.yaml');
  await writeFile(
    file,
    `instance: radius
mode: monitor
events:
  fold_window_ms: 0
history:
  path: ${join(dir, 'history.sqlite')}
api:
  tokens:
    - { name: soc, role: analyst, sha256: ${sha256Hex(ANALYST)} }
identity:
  radius:
    listen: 127.0.0.1:${radiusPort}
policy:
  groups:
    - { name: phones, organisation: X, devices: ["phone-*"] }
`,
  );
  node = await spawnWachtpost(['--config', file, '--upstream', `127.0.0.1:${knot.port}`, '--workers', '2'], { WACHTPOST_RADIUS_SECRET: SECRET });
}, 30_000);
afterAll(async () => {
  if (node?.child.exitCode === null) {
    node.child.kill('SIGTERM');
    await node.exited;
  }
  await knot?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Debian's radclient sends one Accounting-Request (one try, 1 s); exit code 0 when it was answered. */
function radclient(attributes: Record<string, string>, secret = SECRET): Promise<{ code: number | null; output: string }> {
  const child = spawn('radclient', ['-r', '1', '-t', '1', '-x', `127.0.0.1:${radiusPort}`, 'acct', secret], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  child.stdin.end(Object.entries(attributes).map(([name, value]) => `${name} = "${value}"`).join('\n'));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

const session = (status: string, address: string, user: string, id: string) => ({
  'Acct-Status-Type': status,
  'User-Name': user,
  'Framed-IP-Address': address,
  'Acct-Session-Id': id,
  'NAS-IP-Address': '127.0.0.1',
});

interface StoredEvent {
  id: number;
  client: string;
  device: string | null;
  group: string | null;
}

async function api<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`http://127.0.0.1:${node.httpPort}${path}`, { headers: { authorization: `Bearer ${ANALYST}` } });
  return { status: response.status, body: (await response.json()) as T };
}

let seen = 0;
/** Asks for TikTok `times` from `address`, and returns the stored events of those queries. */
async function askFrom(address: string, times = 1): Promise<StoredEvent[]> {
  for (let i = 0; i < times; i++) expect((await dig({ host: '127.0.0.1', port: node.port }, TIKTOK, 'A', { extra: ['-b', address] })).status).toBe('NOERROR');
  let events: StoredEvent[] = [];
  await eventually(async () => {
    events = (await api<{ events: StoredEvent[] }>(`/api/events?client=${address}&limit=500`)).body.events.filter((event) => event.id > seen);
    return events.length >= times;
  }, 10_000);
  seen = Math.max(seen, ...events.map((event) => event.id));
  return events;
}

/** Waits until a query from `address` is stored with `device`: the workers have the change (IPC, a moment after the answer). */
async function settled(address: string, device: string | null): Promise<boolean> {
  return eventually(async () => (await askFrom(address, 1))[0]?.device === device, 5000);
}

describe('RADIUS accounting from radclient', () => {
  it('will not start without a shared secret of 16+ characters, and says so in one line without it', async () => {
    for (const secret of [undefined, 'too-short']) {
      const failed = await spawnWachtpost(['--upstream', `127.0.0.1:${knot.port}`, '--radius-acct', `127.0.0.1:${await freePort()}`], {
        WACHTPOST_RADIUS_SECRET: secret,
      }).then(
        () => 'started',
        (error: Error) => error.message,
      );
      expect(failed).toMatch(/wachtpost: cannot start: identity\.radius\.listen is set, but WACHTPOST_RADIUS_SECRET holds no RADIUS shared secret of 16\+ characters\n/);
      if (secret !== undefined) expect(failed).not.toContain(secret);
    }
  });

  it('maps an address at Start: every query from it, in both workers, carries the device, into a group', async () => {
    const started = await radclient(session('Start', '127.0.0.23', 'Phone-23', 'sess-23'));
    expect(started.code, started.output).toBe(0);
    expect(started.output).toMatch(/Accounting-Response/);
    expect(await settled('127.0.0.23', 'phone-23')).toBe(true);
    const events = await askFrom('127.0.0.23', 16);
    expect(events).toHaveLength(16);
    expect(new Set(events.map((event) => `${event.device} ${event.group}`))).toEqual(new Set(['phone-23 phones']));
    expect(await scrape(node.httpPort, 'wachtpost_radius_sessions')).toBe(1);
  });

  it('keeps the mapping through an Interim-Update, and a replaced worker gets the whole table', async () => {
    expect((await radclient(session('Interim-Update', '127.0.0.23', 'Phone-23', 'sess-23'))).code).toBe(0);
    const workers = childPids(node.child.pid!);
    expect(workers).toHaveLength(2);
    process.kill(workers[0]!, 'SIGKILL');
    expect(await eventually(() => childPids(node.child.pid!).filter((pid) => pid !== workers[0]).length === 2, 15_000)).toBe(true);
    expect(await eventually(async () => (await dig({ host: '127.0.0.1', port: node.port }, 'a.test.wachtpost', 'A')).status === 'NOERROR', 10_000)).toBe(true);
    const events = await askFrom('127.0.0.23', 16);
    expect(events.map((event) => event.device)).toEqual(Array(16).fill('phone-23'));
  }, 40_000);

  it('unmaps it at Stop, and gives the address to the next session', async () => {
    expect((await radclient(session('Stop', '127.0.0.23', 'Phone-23', 'sess-23'))).code).toBe(0);
    expect(await scrape(node.httpPort, 'wachtpost_radius_sessions')).toBe(0);
    expect(await settled('127.0.0.23', null)).toBe(true);
    expect((await askFrom('127.0.0.23', 4)).map((event) => event.device)).toEqual([null, null, null, null]);
    expect((await radclient(session('Start', '127.0.0.23', 'phone-99', 'sess-99'))).code).toBe(0);
    expect(await settled('127.0.0.23', 'phone-99')).toBe(true);
    expect((await askFrom('127.0.0.23', 1)).map((event) => event.device)).toEqual(['phone-99']);
  });

  it("keeps each identified device's addresses over time in the inventory", async () => {
    expect((await radclient(session('Start', '127.0.0.24', 'phone-99', 'sess-100'))).code).toBe(0);
    expect(await settled('127.0.0.24', 'phone-99')).toBe(true);
    const { status, body } = await api<{ client: string; addresses: { address: string; count: number }[] }>('/api/devices/phone-99/addresses');
    expect(status).toBe(200);
    expect(body.addresses.map((entry) => [entry.address, entry.count])).toEqual([
      ['127.0.0.24', 1],
      ['127.0.0.23', 2],
    ]);
    const earlier = (await api<{ addresses: { address: string; count: number }[] }>('/api/devices/phone-23/addresses')).body.addresses;
    expect(earlier.map((entry) => entry.address)).toEqual(['127.0.0.23']);
    expect(earlier[0]!.count).toBeGreaterThanOrEqual(32);
    expect((await api('/api/devices/nobody-here/addresses')).status).toBe(404);
  });

  it('ignores a packet signed with another secret: no answer, no mapping, counted', async () => {
    const before = await scrape(node.httpPort, 'wachtpost_radius_packets_total{outcome="bad_authenticator"}');
    const forged = await radclient(session('Start', '127.0.0.25', 'intruder', 'x'), 'not-the-shared-secret-at-all');
    expect(forged.code).not.toBe(0);
    expect((await askFrom('127.0.0.25', 1))[0]!.device).toBeNull();
    expect(await scrape(node.httpPort, 'wachtpost_radius_packets_total{outcome="bad_authenticator"}')).toBe(before + 1);
    expect(node.output()).not.toContain(SECRET);
    expect(node.output()).not.toContain('not-the-shared-secret-at-all');
  });

  it('maps and unmaps an OpenVPN client through deploy/openvpn/wachtpost-acct.sh, run as OpenVPN runs it', async () => {
    const secretFile = join(dir, 'radius.secret');
    await writeFile(secretFile, `${SECRET}\n`);
    const hook = (scriptType: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn('sh', [join(ROOT, 'deploy/openvpn/wachtpost-acct.sh')], {
          stdio: 'ignore',
          env: {
            PATH: process.env.PATH,
            script_type: scriptType,
            common_name: 'Laptop-7',
            ifconfig_pool_remote_ip: '127.0.0.27',
            time_unix: '1764806400',
            WACHTPOST_ACCT: `127.0.0.1:${radiusPort}`,
            WACHTPOST_SECRET_FILE: secretFile,
          },
        });
        child.on('exit', resolve);
      });
    const mapped = await scrape(node.httpPort, 'wachtpost_radius_records_total{result="mapped"}');
    expect(await hook('client-connect')).toBe(0);
    expect(await scrape(node.httpPort, 'wachtpost_radius_records_total{result="mapped"}')).toBe(mapped + 1);
    expect(await settled('127.0.0.27', 'laptop-7')).toBe(true);
    expect(await hook('client-disconnect')).toBe(0);
    expect(await settled('127.0.0.27', null)).toBe(true);
  });

  it('keeps answering after 5,000 hostile datagrams: truncated, overlong, garbage, wrong codes', async () => {
    const socket = createSocket('udp4');
    const valid = Buffer.from('0401001f' + '00'.repeat(16) + '2806000000010105414141', 'hex');
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    for (let i = 0; i < 5000; i++) {
      const kind = i % 4;
      const datagram =
        kind === 0
          ? Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)))
          : kind === 1
            ? valid.subarray(0, Math.floor(random() * valid.length))
            : Buffer.from(valid.map((byte) => (random() < 0.1 ? Math.floor(random() * 256) : byte)));
      if (kind === 3) datagram.writeUInt16BE(Math.floor(random() * 65_536), 2);
      socket.send(datagram, radiusPort, '127.0.0.1');
      if (i % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.close();
    expect((await radclient(session('Start', '127.0.0.26', 'phone-26', 'sess-26'))).code).toBe(0);
    expect(await settled('127.0.0.26', 'phone-26')).toBe(true);
    expect(await scrape(node.httpPort, 'wachtpost_radius_packets_total{outcome="malformed"}')).toBeGreaterThan(1000);
    expect(node.child.exitCode).toBeNull();
  });
});
