import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Resolver } from './resolver.js';

/**
 * Runs one resolver in this process until SIGTERM/SIGINT (or, in a cluster worker, the
 * primary's drain message), then drains in-flight queries and exits 0.
 */
export async function serveInProcess(config: Config, log: Logger, onReady?: () => void): Promise<Resolver> {
  const resolver = await Resolver.start(config, log);
  const stop = (reason: string): void => {
    log.info({ reason }, 'draining');
    resolver.drain(config.dns.drain_timeout_ms).then(
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
  onReady?.();
  return resolver;
}
