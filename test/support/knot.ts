import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnDaemon } from './daemon.js';
import { dig } from './dig.js';
import { freePort } from './ports.js';

const ZONES = fileURLToPath(new URL('../fixtures/zones/', import.meta.url));
const START_TIMEOUT_MS = 10_000;

export interface KnotServer {
  host: '127.0.0.1';
  port: number;
  stop(): Promise<void>;
}

/** The one zone Knot signs at start-up, for DNSSEC tests. */
const SIGNED_ZONE = 'signed.wachtpost';

export interface KnotZone {
  name: string;
  file: string;
  /** Signed by knotd at start-up (ECDSA P-256, NSEC). */
  signed?: boolean;
}

/** A knot.conf serving `zones` from files, with all state in `dir`; no zone file is written back. */
export function knotConfig(listen: string[], dir: string, zones: readonly KnotZone[]): string {
  const signing = zones.some((zone) => zone.signed);
  return [
    'server:',
    `    listen: [ ${listen.join(', ')} ]`,
    `    rundir: ${dir}`,
    'log:',
    '  - target: stderr',
    '    any: warning',
    'database:',
    `    storage: ${dir}`,
    ...(signing ? ['policy:', '  - id: test', '    algorithm: ecdsap256sha256', '    nsec3: off'] : []),
    'zone:',
    ...zones.flatMap((zone) => [
      `  - domain: ${zone.name}`,
      `    file: ${zone.file}`,
      '    zonefile-sync: -1',
      '    journal-content: none',
      ...(zone.signed ? ['    dnssec-signing: on', '    dnssec-policy: test'] : []),
    ]),
    '',
  ].join('\n');
}

/**
 * A real authoritative upstream: Debian's Knot DNS on a free loopback port, serving every
 * zone in test/fixtures/zones (signed.wachtpost signed by knot at start-up), with all of its
 * state in a fresh temporary directory.
 */
export async function startKnot(): Promise<KnotServer> {
  const dir = await mkdtemp(join(tmpdir(), 'wachtpost-knot-'));
  const port = await freePort();
  const zones = (await readdir(ZONES)).filter((file) => file.endsWith('.zone')).map((file) => file.slice(0, -'.zone'.length));
  const config = knotConfig(
    [`127.0.0.1@${port}`, `::1@${port}`],
    dir,
    zones.map((name) => ({ name, file: join(ZONES, `${name}.zone`), signed: name === SIGNED_ZONE })),
  );
  await writeFile(join(dir, 'knot.conf'), config);

  const daemon = spawnDaemon('knotd', ['-c', join(dir, 'knot.conf')]);
  const { child } = daemon;
  const stop = async (): Promise<void> => {
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  };

  const server = { host: '127.0.0.1' as const, port };
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`knotd exited at start-up:\n${daemon.stderr()}`);
    }
    const probe = await dig(server, 'a.signed.wachtpost', 'A', { dnssec: true, timeoutSeconds: 1 });
    if (probe.answer.some((record) => record.type === 'RRSIG')) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`knotd did not serve signed answers within ${START_TIMEOUT_MS} ms:\n${daemon.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { ...server, stop };
}
