import { isIP, SocketAddress } from 'node:net';

/** What a valid client looks like, for error messages. */
export const CLIENT_EXPECTED = 'an IP address or a pseudonym ("p:" and 24 hex digits)';

/**
 * A client as events carry it, or null when `value` is none: a pseudonym as is, an address
 * in Node's spelling (how sockets report peers), so any spelling of an address finds it.
 * The feed's filter and the API's parameters both go through here.
 */
export function normaliseClient(value: string): string | null {
  if (/^p:[0-9a-f]{24}$/.test(value)) return value;
  const family = isIP(value);
  return family === 0 ? null : new SocketAddress({ address: value, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
}
