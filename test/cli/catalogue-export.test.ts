import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../integration/harness.js';
import { runCli } from '../support/cli.js';
import { dig, type Server } from '../support/dig.js';
import { startKnot, type KnotServer } from '../support/knot.js';
import { freePort } from '../support/ports.js';

const ZONE = 'rpz.test';
const LOCAL = `apps:
  - { id: kantoor, name: Kantoor, owner: Kantoor BV, owner_country: NL, category: other, rules: [{ domain: nl-edge.tiktokv.com, source: ours, verified: 2026-12-03 }, { domain: aaaa.test.wachtpost, source: ours, verified: 2026-12-03 }] }
rules:
  - { app: tiktok, domain: multi.test.wachtpost, source: ours, verified: 2026-12-03 }
`;

let knot: KnotServer;
let unbound: { child: ChildProcess; server: Server; output: () => string } | null = null;
let dir: string;
let exported: Awaited<ReturnType<typeof runCli>>;

/**
 * Debian's Unbound on a free loopback port, with the zone as its response policy zone and
 * Knot (on loopback) as the authority for the test zones; ready once it answers.
 */
async function startUnbound(zonefile: string, knotPort: number): Promise<{ child: ChildProcess; server: Server; output: () => string }> {
  const port = await freePort();
  const config = [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${port}`,
    '  do-ip6: no',
    '  access-control: 127.0.0.0/8 allow',
    '  do-not-query-localhost: no',
    '  module-config: "respip iterator"',
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 1',
    'remote-control:',
    '  control-enable: no',
    ...['test.wachtpost', 'tiktokv.com'].flatMap((zone) => ['stub-zone:', `  name: "${zone}."`, `  stub-addr: 127.0.0.1@${knotPort}`]),
    'rpz:',
    `  name: "${ZONE}."`,
    `  zonefile: "${zonefile}"`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'unbound.conf'), config);
  const child = spawn('unbound', ['-d', '-p', '-c', join(dir, 'unbound.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const server = { host: '127.0.0.1', port };
  for (const deadline = Date.now() + 15_000; ; await sleep(100)) {
    if (child.exitCode !== null) throw new Error(`unbound exited:\n${output}`);
    if ((await dig(server, 'a.test.wachtpost', 'A', { timeoutSeconds: 1 })).status === 'NOERROR') break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`unbound did not answer:\n${output}`);
    }
  }
  return { child, server, output: () => output };
}

beforeAll(async () => {
  knot = await startKnot();
  dir = await mkdtemp(join(tmpdir(), 'wachtpost-rpz-'));
  await writeFile(join(dir, 'local-rules.yaml'), LOCAL);
  const config = join(dir, 'wachtpost.yaml');
  await writeFile(config, `upstream: { servers: ["127.0.0.1:${knot.port}"] }\ndetection: { local_rules: ${join(dir, 'local-rules.yaml')} }\n`);
  exported = await runCli(['catalogue', 'export', '--rpz', '--zone', ZONE, '--config', config, '-o', join(dir, 'catalogue.rpz')]);
  unbound = await startUnbound(join(dir, 'catalogue.rpz'), knot.port);
}, 60_000);

afterAll(async () => {
  if (unbound !== null && unbound.child.exitCode === null) {
    const exited = new Promise((resolve) => unbound!.child.once('exit', resolve));
    unbound.child.kill('SIGTERM');
    await exited;
  }
  await knot?.stop();
});

describe('wachtpost catalogue export --rpz', () => {
  it('writes a zone and says what RPZ cannot hold', async () => {
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/^.*catalogue\.rpz: zone rpz\.test, \d+ domains of \d+ apps; \d+ pattern rules listed as comments only: RPZ cannot express them\n$/);
    expect(await readFile(join(dir, 'catalogue.rpz'), 'utf8')).toMatch(/^\$ORIGIN rpz\.test\.$/m);
  });

  it('makes a real Unbound block catalogued names while other names resolve', async () => {
    const server = unbound!.server;
    expect(unbound!.output()).not.toMatch(/error|fail/i);
    const blocked = await dig(server, 'api16-normal-c-useast1a.tiktokv.com', 'A');
    expect(blocked.status).toBe('NXDOMAIN');
    // A local rule is in the zone too.
    expect((await dig(server, 'multi.test.wachtpost', 'A')).status).toBe('NXDOMAIN');
    const plain = await dig(server, 'a.test.wachtpost', 'A');
    expect(plain.status).toBe('NOERROR');
    expect(plain.answer.map((record) => record.data)).toEqual(['192.0.2.10']);
    // An app whose owner is not watch-listed is not exported; below an exported name it is let through.
    expect((await dig(server, 'aaaa.test.wachtpost', 'AAAA')).status).toBe('NOERROR');
    const passed = await dig(server, 'nl-edge.tiktokv.com', 'A');
    expect(passed.status).toBe('NOERROR');
    expect(passed.answer.map((record) => record.data)).toEqual(['192.0.2.32']);
  }, 30_000);
});
