import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';

/** The name this instance's events carry: configured, or the host name. */
export function instanceName(config: Config): string {
  return config.instance || hostname();
}
