import type { Logger } from 'pino';
import { loadConfig, type LoadOptions } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { startHealthServer } from '../http/health-server.js';
import { SHIPPED } from '../tagging/shipped-data.js';
import { ReloadWatcher } from './reload-watcher.js';
import { Resolver } from './resolver.js';

export interface ServeOptions {
  /** Serve /health and /ready here (a single process); in a cluster the primary does. */
  http: boolean;
  /** Where the configuration came from, to load it again on SIGHUP or a file change. */
  source: LoadOptions;
  onReady?: () => void;
}

/**
 * Runs one resolver in this process until SIGTERM/SIGINT (or, in a cluster worker, the
 * primary's drain message), then drains in-flight queries and exits 0. SIGHUP, a reload
 * message from the primary, or a change to the configuration, catalogue or watch-list files
 * reloads detection and policy; a broken file keeps the running version and says why.
 */
export async function serveInProcess(config: Config, log: Logger, options: ServeOptions): Promise<Resolver> {
  const resolver = await Resolver.start(config, log);
  const reload = (reason: string): void => {
    try {
      resolver.reload(loadConfig(options.source));
    } catch (error) {
      log.error({ reason, err: error }, 'reload refused; the running configuration stays');
    }
  };
  const watcher = new ReloadWatcher(
    [options.source.file, config.detection.catalogue || SHIPPED.catalogue, config.detection.jurisdictions || SHIPPED.jurisdictions].filter(
      (path): path is string => path !== undefined,
    ),
    () => reload('file changed'),
  );
  let draining = false;
  const http = options.http ? await startHealthServer(config.http.listen, { ready: () => !draining }, log) : null;
  const stop = (reason: string): void => {
    if (draining) return;
    draining = true;
    watcher.close();
    log.info({ reason }, 'draining');
    Promise.all([resolver.drain(config.dns.drain_timeout_ms), http?.close()]).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => reload('SIGHUP'));
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'drain') stop('primary asked');
    if (message?.type === 'reload') reload('primary asked');
  });
  options.onReady?.();
  return resolver;
}
