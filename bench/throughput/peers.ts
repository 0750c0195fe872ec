/**
 * The servers of a run: Knot as the upstream, and the measured targets (Wachtpost, Unbound,
 * dnsmasq, dnsdist, the echoes), each a child process on a free loopback port with its
 * configuration in its own directory under the run's temporary directory.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { knotConfig } from '../../test/support/knot.js';
import { freePort } from '../../test/support/ports.js';
import { ask } from './probe.js';
import { processTree } from './procstat.js';
import { BLOCKED_DOMAINS, benchName } from './zones.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WACHTPOST_CLI = join(ROOT, 'dist/cli/main.js');
const ECHO_SERVER = fileURLToPath(new URL('./echo-server.ts', import.meta.url));
const BATCHED_ECHO = fileURLToPath(new URL('./echo-batched.ts', import.meta.url));
const C_ECHO_SOURCE = fileURLToPath(new URL('./echo.c', import.meta.url));
/** Wachtpost loads its GeoIP data and catalogue per worker, which takes many seconds on a busy 2-core machine. */
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 3000;
const OUTPUT_TAIL_CHARS = 4000;

export interface Server {
  readonly name: string;
  readonly port: number;
  /** Root of the process tree whose CPU time and memory are measured. */
  readonly pid: number;
  /** Wachtpost's HTTP port (feed, API, /ready); absent for the other servers. */
  readonly httpPort?: number;
  /** Where it serves DNS over TLS and over HTTPS (/dns-query), if it does. */
  readonly dotPort?: number;
  readonly dohPort?: number;
  stop(): Promise<void>;
}

/** Debian installs daemons in sbin, which an ordinary user's PATH often lacks. */
export function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** What `pattern` captures from the output of `binary args`, for the report. */
export function versionOf(binary: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

interface LaunchSpec {
  name: string;
  command: string;
  args: string[];
  /** Its own directory, so any state it keeps under a relative path ends up in the run's temporary directory. */
  cwd: string;
  port: number;
  /** Polled until true (or START_TIMEOUT_MS) once the process is running. */
  ready: () => Promise<boolean>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** stop() of every server started and not yet exited, so an interrupted run can end them all. */
const live = new Set<() => Promise<void>>();

/** Stops every server still running (used on exit, error and interruption). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((stop) => stop()));
}

/**
 * Starts a server and waits until it answers. stop() sends SIGTERM, and SIGKILL to the
 * whole process tree if it has not exited after STOP_GRACE_MS. On start-up failure the
 * process is stopped and the error carries the tail of its output.
 */
async function launch(spec: LaunchSpec): Promise<Server> {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const failure: { error?: Error } = {};
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      failure.error = error;
      resolve();
    });
  });
  void exited.then(() => live.delete(stop));
  const running = (): boolean => failure.error === undefined && child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    if (!running()) return;
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(STOP_GRACE_MS)]);
    if (!running()) return;
    for (const pid of processTree(child.pid!).reverse()) process.kill(pid, 'SIGKILL');
    await exited;
  };
  live.add(stop);

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(running() && child.pid !== undefined && (await spec.ready()))) {
    if (!running() || Date.now() > deadline) {
      const why = failure.error ? `could not be started: ${failure.error.message}` : running() ? `did not answer within ${START_TIMEOUT_MS} ms` : 'exited at start-up';
      await stop();
      throw new Error(`${spec.name} ${why}\n${output}`);
    }
    await sleep(100);
  }
  return { name: spec.name, port: spec.port, pid: child.pid!, stop };
}

/** Ready when a hot bench name resolves: the server listens and reaches the upstream. */
const resolves = (port: number) => async (): Promise<boolean> => (await ask(port, benchName(0), 'A', 500))?.answers === 1;

export async function startKnot(binary: string, dir: string, zones: Map<string, string>): Promise<Server> {
  const port = await freePort();
  const config = knotConfig([`127.0.0.1@${port}`], dir, [...zones].map(([name, file]) => ({ name, file })));
  await writeFile(join(dir, 'knot.conf'), config);
  return launch({ name: 'knot', command: binary, args: ['-c', join(dir, 'knot.conf')], cwd: dir, port, ready: resolves(port) });
}

/** The certificate and key of the encrypted listeners of a run. */
export interface Certificate {
  cert: string;
  key: string;
}

/**
 * Unbound as a caching forwarder to Knot, answering NXDOMAIN for the blocked app zones,
 * with DNS over TLS and over HTTPS (Debian's build has nghttp2) on ports of their own.
 */
export async function startUnbound(binary: string, dir: string, upstreamPort: number, threads: number, certificate: Certificate): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const [port, dotPort, dohPort] = [await freePort(), await freePort(), await freePort()];
  // Slab counts must be powers of two; one per thread avoids lock contention.
  const slabs = 2 ** Math.ceil(Math.log2(threads));
  const config = [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    `  interface: 127.0.0.1@${dotPort}`,
    `  interface: 127.0.0.1@${dohPort}`,
    `  port: ${port}`,
    `  tls-port: ${dotPort}`,
    `  https-port: ${dohPort}`,
    `  tls-service-pem: "${certificate.cert}"`,
    `  tls-service-key: "${certificate.key}"`,
    '  do-ip6: no',
    `  num-threads: ${threads}`,
    '  so-reuseport: yes',
    '  access-control: 127.0.0.0/8 allow',
    // Knot is on loopback, which Unbound refuses to query by default.
    '  do-not-query-localhost: no',
    // Iterator only: no DNSSEC validation, as the others do none.
    '  module-config: "iterator"',
    '  msg-cache-size: 64m',
    '  rrset-cache-size: 128m',
    `  msg-cache-slabs: ${slabs}`,
    `  rrset-cache-slabs: ${slabs}`,
    `  infra-cache-slabs: ${slabs}`,
    '  num-queries-per-thread: 4096',
    // The 4 MiB Wachtpost asks for, so bursts are not dropped by a smaller socket buffer.
    '  so-rcvbuf: 4m',
    '  so-sndbuf: 4m',
    '  outgoing-range: 8192',
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    ...BLOCKED_DOMAINS.map((domain) => `  local-zone: "${domain}." always_nxdomain`),
    'remote-control:',
    '  control-enable: no',
    'forward-zone:',
    '  name: "."',
    `  forward-addr: 127.0.0.1@${upstreamPort}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'unbound.conf'), config);
  return { ...(await launch({ name: 'unbound', command: binary, args: ['-d', '-p', '-c', join(dir, 'unbound.conf')], cwd: dir, port, ready: resolves(port) })), dotPort, dohPort };
}

/**
 * dnsdist as a caching front end to Knot (its packet cache on, as a caching resolver is
 * compared), UDP and TCP plus DNS over TLS and over HTTPS, NXDOMAIN for the blocked app
 * zones; the console, carbon and security polling off.
 */
export async function startDnsdist(binary: string, dir: string, upstreamPort: number, certificate: Certificate): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const [port, dotPort, dohPort] = [await freePort(), await freePort(), await freePort()];
  const config = [
    `setLocal('127.0.0.1:${port}')`,
    `addTLSLocal('127.0.0.1:${dotPort}', '${certificate.cert}', '${certificate.key}')`,
    `addDOHLocal('127.0.0.1:${dohPort}', '${certificate.cert}', '${certificate.key}', '/dns-query')`,
    `newServer({address='127.0.0.1:${upstreamPort}'})`,
    `getPool(''):setCache(newPacketCache(100000, {maxTTL=86400}))`,
    `addAction({${BLOCKED_DOMAINS.map((domain) => `'${domain}'`).join(', ')}}, RCodeAction(DNSRCode.NXDOMAIN))`,
    "setSecurityPollSuffix('')",
    '',
  ].join('\n');
  await writeFile(join(dir, 'dnsdist.conf'), config);
  const args = ['--supervised', '--disable-syslog', '-C', join(dir, 'dnsdist.conf')];
  return { ...(await launch({ name: 'dnsdist', command: binary, args, cwd: dir, port, ready: resolves(port) })), dotPort, dohPort };
}

/** dnsmasq as a caching forwarder to Knot; `--address=/DOMAIN/` answers NXDOMAIN for DOMAIN and below. */
export async function startDnsmasq(binary: string, dir: string, upstreamPort: number): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const args = [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--pid-file=',
    `--server=127.0.0.1#${upstreamPort}`,
    ...BLOCKED_DOMAINS.map((domain) => `--address=/${domain}/`),
    // Not more: once a 100,000-entry cache is full, dnsmasq's misses slow from ~18,000 to ~150 q/s here.
    '--cache-size=10000',
    // The default of 150 concurrent forwarded queries would drop most of the miss workload.
    '--dns-forward-max=1000',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
  ];
  return launch({ name: 'dnsmasq', command: binary, args, cwd: dir, port, ready: resolves(port) });
}

/** Package version, commit, whether src/ differs from it, and when dist/ was built: what was measured. */
export function wachtpostVersion(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const commit = git(['rev-parse', '--short', 'HEAD']) || 'no git';
  const changed = git(['status', '--porcelain', '--', 'src']) === '' ? '' : ' + uncommitted src changes';
  const built = existsSync(WACHTPOST_CLI) ? statSync(WACHTPOST_CLI).mtime.toISOString() : 'not built';
  return `${version} (${commit}${changed}; dist built ${built})`;
}

export interface WachtpostVariant {
  workers: number;
  /** Also serve DNS over TLS and over HTTPS with this certificate. */
  certificate?: Certificate;
  /** false: detection.enabled off (no canaries, tagging, policy or events). */
  tagging: boolean;
  /** Further top-level settings (e.g. api tokens for a feed benchmark). */
  extra?: Record<string, unknown>;
  /** Run under node --cpu-prof, every process (workers inherit it) writing its profile here at exit. */
  profileDir?: string;
}

/**
 * Enforce mode with everything on: tagging, policy, events and their history (a SQLite
 * file in the server's own directory). `tagging: false` is the same resolver with
 * detection switched off: a plain caching forwarder, no events.
 */
function wachtpostConfig(variant: WachtpostVariant): object {
  return {
    mode: 'enforce',
    dns: { drain_timeout_ms: 500 },
    log: { level: 'warn' },
    ...(variant.tagging ? {} : { detection: { enabled: false } }),
    ...variant.extra,
  };
}

export async function startWachtpost(name: string, dir: string, upstreamPort: number, variant: WachtpostVariant): Promise<Server> {
  if (!existsSync(WACHTPOST_CLI)) throw new Error(`${WACHTPOST_CLI} is missing: run \`npm run build\` first`);
  await mkdir(dir, { recursive: true });
  const [port, httpPort, dotPort, dohPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = wachtpostConfig(variant);
  const encrypted = variant.certificate;
  const file = join(dir, 'wachtpost.yaml');
  await writeFile(file, YAML.stringify(config));
  const args = [
    ...(variant.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${variant.profileDir}`]),
    WACHTPOST_CLI,
    'serve',
    ...['--config', file, '--listen', `127.0.0.1:${port}`, '--upstream', `127.0.0.1:${upstreamPort}`],
    ...['--workers', String(variant.workers), '--http', `127.0.0.1:${httpPort}`],
    ...(encrypted === undefined ? [] : ['--dot', `127.0.0.1:${dotPort}`, '--doh', `127.0.0.1:${dohPort}`, '--tls-cert', encrypted.cert, '--tls-key', encrypted.key]),
  ];
  // /ready turns 200 only when every worker serves DNS; a single answer could come from the first one.
  const ready = async (): Promise<boolean> => {
    const status = await fetch(`http://127.0.0.1:${httpPort}/ready`).then((response) => response.status, () => 0);
    return status === 200 && (await resolves(port)());
  };
  return { ...(await launch({ name, command: process.execPath, args, cwd: dir, port, ready })), httpPort, ...(encrypted === undefined ? {} : { dotPort, dohPort }) };
}

/**
 * A Wachtpost with dnstap on, to a real receiver: Debian's dnstap CLI reading the Unix
 * socket and writing the raw frames to /dev/null (it decodes nothing, so its CPU stays
 * small; it counts under "other"). The server measured is Wachtpost; stop() ends both.
 */
export async function startWachtpostWithDnstap(name: string, dir: string, upstreamPort: number, dnstap: string, variant: WachtpostVariant): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'dnstap.sock');
  const receiver = await launch({
    name: `${name} dnstap receiver`,
    command: dnstap,
    args: ['-u', socket, '-w', '/dev/null'],
    cwd: dir,
    port: 0,
    ready: async () => existsSync(socket),
  });
  try {
    const server = await startWachtpost(name, dir, upstreamPort, { ...variant, extra: { ...variant.extra, dnstap: { target: `unix:${socket}` } } });
    return {
      ...server,
      stop: async () => {
        await server.stop();
        await receiver.stop();
      },
    };
  } catch (error) {
    await receiver.stop();
    throw error;
  }
}

/** Ready when it answers at all: an echo does no DNS. */
const echoReady = (port: number) => async (): Promise<boolean> => (await ask(port, benchName(0), 'A', 500)) !== null;

/** The Node UDP echo reference (echo-server.ts), run through tsx like the harness itself (so from the repository root). */
export async function startEcho(): Promise<Server> {
  const port = await freePort();
  return launch({ name: 'echo', command: process.execPath, args: ['--import', 'tsx', ECHO_SERVER, String(port)], cwd: ROOT, port, ready: echoReady(port) });
}

/** The batched echo reference (echo-batched.ts): `processes` processes on the addon, as Wachtpost's workers. */
export async function startBatchedEcho(processes: number): Promise<Server> {
  const port = await freePort();
  return launch({ name: 'echo-batched', command: process.execPath, args: ['--import', 'tsx', BATCHED_ECHO, String(port), String(processes)], cwd: ROOT, port, ready: echoReady(port) });
}

/** The C echo reference (echo.c), compiled with `cc` into `dir` first. */
export async function startCEcho(cc: string, dir: string, processes: number): Promise<Server> {
  await mkdir(dir, { recursive: true });
  const binary = join(dir, 'echo');
  execFileSync(cc, ['-O2', '-o', binary, C_ECHO_SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await freePort();
  return launch({ name: 'echo-c', command: binary, args: [String(port), String(processes)], cwd: dir, port, ready: echoReady(port) });
}
