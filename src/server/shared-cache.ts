import { CacheMemory, partLengths, type CacheLayout } from '../cache/cache-memory.js';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { cacheLayoutOf } from './resolver-chain.js';
import { INHERITED_FD, sharedMemoryAddon } from './shared-memory.js';

/** Tells a worker the shared cache's layout ("entries:pages"); absent, it caches alone. */
export const CACHE_MEMORY_ENV = 'WACHTPOST_CACHE_MEMORY';
/** What the primary hands every worker it forks: the memory's descriptor and its layout. */
export interface SharedCache {
  readonly fd: number;
  readonly env: Record<string, string>;
}

/**
 * The primary's side: one memory for the workers' cache, sized for the configured limits
 * (it costs memory only as answers fill it), or null where the cache is not shared:
 * `cache.shared` off, a cache of no entries, or no addon (then each worker caches alone).
 * The descriptor stays open in the primary, so a worker that replaces a dead one maps the
 * same cache.
 */
export function createSharedCache(config: Config, log: Logger): SharedCache | null {
  const layout = cacheLayoutOf(config);
  if (!config.cache.shared || layout.entries === 0) return null;
  const addon = sharedMemoryAddon();
  if (addon === null) {
    log.warn('cache.shared is on but the addon is missing (npm ci builds it): each worker caches alone');
    return null;
  }
  try {
    const fd = addon.create(partLengths(layout).reduce((sum, length) => sum + length, 0));
    return { fd, env: { [CACHE_MEMORY_ENV]: `${layout.entries}:${layout.pages}` } };
  } catch (error) {
    log.warn({ err: error }, 'the shared cache could not be created: each worker caches alone');
    return null;
  }
}

/** A worker's side: the memory its primary created, or null when it caches alone. */
export function workerCacheMemory(env: NodeJS.ProcessEnv = process.env): CacheMemory | null {
  const value = env[CACHE_MEMORY_ENV];
  const addon = sharedMemoryAddon();
  if (value === undefined || addon === null) return null;
  const match = /^(\d+):(\d+)$/.exec(value);
  if (match === null) throw new Error(`${CACHE_MEMORY_ENV} is not "entries:pages": ${value}`);
  const layout: CacheLayout = { entries: Number(match[1]), pages: Number(match[2]) };
  return new CacheMemory(layout, addon.map(INHERITED_FD.cache, partLengths(layout)), true, addon.yield);
}
