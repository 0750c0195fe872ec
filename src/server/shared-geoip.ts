import { closeSync, fstatSync, openSync, readFileSync, statSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { geoDatabaseFiles } from '../tagging/detection.js';
import type { DatabaseReader } from '../tagging/geo-tagger.js';
import { INHERITED_FD, sharedMemoryAddon } from './shared-memory.js';

/** Tells a worker which files (absolute path and version, country then ASN) its inherited copies hold: JSON. */
export const GEOIP_SHARED_ENV = 'WACHTPOST_GEOIP_SHARED';

interface SharedFile {
  path: string;
  version: string;
}

/** What the primary hands every worker it forks: the copies' descriptors (country, ASN) and what they hold. */
export interface SharedGeoDatabases {
  readonly fds: readonly [country: number, asn: number];
  readonly env: Record<string, string>;
}

/** A file's version: device, inode, size and modification time, so a file replaced or rewritten differs. */
function versionOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

/**
 * The primary's side: a sealed copy in memory of each configured GeoIP database, which every
 * worker maps instead of reading the file into memory of its own (25 MB a worker with the
 * shipped databases). Null without the addon, or when a file cannot be copied: then each
 * worker reads its own, and one that cannot read a file fails its start with the reason.
 * The descriptors stay open, so a worker that replaces a dead one maps the same copies.
 */
export function shareGeoDatabases(config: Config, log: Logger): SharedGeoDatabases | null {
  const addon = sharedMemoryAddon();
  if (addon === null) return null;
  const files: SharedFile[] = [];
  const fds: number[] = [];
  try {
    for (const file of geoDatabaseFiles(config.detection)) {
      const path = resolve(file);
      const fd = openSync(path, 'r');
      try {
        // The version of the very bytes copied: taken from the open file, not its name.
        const version = versionOf(fstatSync(fd, { bigint: true }));
        fds.push(addon.sealedCopy(fd));
        files.push({ path, version });
      } finally {
        closeSync(fd);
      }
    }
  } catch (error) {
    for (const fd of fds) closeSync(fd);
    log.warn({ err: error }, 'the GeoIP databases are not shared: each worker reads its own');
    return null;
  }
  return { fds: [fds[0]!, fds[1]!], env: { [GEOIP_SHARED_ENV]: JSON.stringify(files) } };
}

/**
 * A worker's side: a reader that returns the primary's copy of a database while the file is
 * still the version copied, and reads a file changed since (a new release installed, then
 * a reload) into this worker's own memory, as a worker that shares nothing does. Undefined
 * when the primary shares nothing.
 */
export function workerDatabaseReader(
  env: NodeJS.ProcessEnv = process.env,
  fds: readonly [country: number, asn: number] = [INHERITED_FD.country, INHERITED_FD.asn],
): DatabaseReader | undefined {
  const value = env[GEOIP_SHARED_ENV];
  const addon = sharedMemoryAddon();
  if (value === undefined || addon === null) return undefined;
  const files = parseSharedFiles(value);
  const copies = new Map<string, { version: string; bytes: Buffer }>();
  files.forEach((file, i) => copies.set(file.path, { version: file.version, bytes: Buffer.from(addon.mapReadOnly(fds[i]!)) }));
  return (file) => {
    const path = resolve(file);
    const copy = copies.get(path);
    if (copy !== undefined && versionOf(statSync(path, { bigint: true })) === copy.version) return copy.bytes;
    return readFileSync(path);
  };
}

function parseSharedFiles(value: string): SharedFile[] {
  const files: unknown = JSON.parse(value);
  const valid =
    Array.isArray(files) &&
    files.length === 2 &&
    files.every((file: unknown) => typeof file === 'object' && file !== null && typeof (file as SharedFile).path === 'string' && typeof (file as SharedFile).version === 'string');
  if (!valid) throw new Error(`${GEOIP_SHARED_ENV} is not two {path, version} entries: ${value}`);
  return files as SharedFile[];
}
