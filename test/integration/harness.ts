import pino from 'pino';
import { loadConfig, type ConfigOverrides } from '../../src/config/load.js';
import { Resolver } from '../../src/server/resolver.js';
import { freePort } from '../support/ports.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface RunningWachtpost {
  resolver: Resolver;
  server: Endpoint;
  stop(): Promise<void>;
}

/**
 * Starts a real resolver in this process on a free loopback port, forwarding to the given
 * loopback upstreams, with `yaml` as the configuration file's text.
 */
export async function startWachtpost(upstreams: Endpoint[], yaml = '', overrides: ConfigOverrides = {}): Promise<RunningWachtpost> {
  const port = await freePort();
  const config = loadConfig({
    text: yaml,
    overrides: {
      listen: [`127.0.0.1:${port}`],
      upstream: upstreams.map((upstream) => `${upstream.host}:${upstream.port}`),
      workers: 1,
      ...overrides,
    },
  });
  const resolver = await Resolver.start(config, pino({ level: 'silent' }));
  return {
    resolver,
    server: { host: '127.0.0.1', port },
    stop: () => resolver.drain(1000),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
