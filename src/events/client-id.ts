import { isIP, SocketAddress } from 'node:net';
import { parseDeviceId } from '../pipeline/device-id.js';

const PSEUDONYM = /^p:[0-9a-f]{24}$/;

/** What a valid client looks like, for error messages. */
export const CLIENT_EXPECTED = 'an IP address or a pseudonym ("p:" and 24 hex digits)';

/**
 * A client as events carry it, or null when `value` is none: a pseudonym as is, an address
 * in Node's spelling (how sockets report peers), so any spelling of an address finds it.
 * The feed's filter and the API's parameters both go through here.
 */
export function normaliseClient(value: string): string | null {
  if (PSEUDONYM.test(value)) return value;
  const family = isIP(value);
  return family === 0 ? null : new SocketAddress({ address: value, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
}

/** What a valid device filter looks like. */
export const DEVICE_EXPECTED_FILTER = 'a device id (1-63 letters, digits or inner hyphens) or its pseudonym ("p:" and 24 hex digits)';

/** A device id as events carry it (canonical, or its pseudonym), or null when `value` is neither. */
export function normaliseDevice(value: string): string | null {
  return PSEUDONYM.test(value) ? value : parseDeviceId(value);
}

/** What a valid device key looks like: a client, or a device id. */
export const DEVICE_KEY_EXPECTED = `${CLIENT_EXPECTED}, or a device id (1-63 letters, digits or inner hyphens)`;

/**
 * A device as the inventory keys it (its id when the transport identified it, else its
 * client), or null when `value` is neither.
 */
export function normaliseDeviceKey(value: string): string | null {
  return normaliseClient(value) ?? parseDeviceId(value);
}
