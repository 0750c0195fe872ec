import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { startHealthServer } from '../http/health-server.js';
import { Resolver } from './resolver.js';

/**
 * Runs one resolver in this process until SIGTERM/SIGINT (or, in a cluster worker, the
 * primary's drain message), then drains in-flight queries and exits 0. The HTTP server runs
 * here only when this process is the whole node; in a cluster the primary owns it.
 */
export async function serveInProcess(config: Config, log: Logger, options: { http: boolean; onReady?: () => void }): Promise<Resolver> {
  const resolver = await Resolver.start(config, log);
  let draining = false;
  const http = options.http ? await startHealthServer(config.http.listen, { ready: () => !draining }, log) : null;
  const stop = (reason: string): void => {
    if (draining) return;
    draining = true;
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
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'drain') stop('primary asked');
  });
  options.onReady?.();
  return resolver;
}
