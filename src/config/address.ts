import ipaddr from 'ipaddr.js';

import { isIPv6 } from 'node:net';

/**
 * An IPv4 address as four decimal octets, 0-255, without leading zeros. ipaddr.js, like
 * inet_aton(3), also reads "010.64.0.0" (octal: 8.64.0.0), "0x7f.1", "127.1" and "10.1.2";
 * other tools read some of those differently, so a range meant as one network could be
 * another. Only the form every parser reads alike is accepted.
 */
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

export type IpFamily = 4 | 6;

/**
 * The family of an address written strictly: IPv4 as above; IPv6 as RFC 4291 writes it
 * (hex groups, one "::", an embedded IPv4 tail in the strict form), without a zone index.
 * Throws an Error saying what is wrong otherwise.
 */
export function strictIp(text: string): IpFamily {
  if (IPV4.test(text)) return 4;
  if (text.includes(':')) {
    const tail = text.slice(text.lastIndexOf(':') + 1);
    if (!text.includes('%') && isIPv6(text) && (!tail.includes('.') || IPV4.test(tail))) return 6;
    throw new Error(`"${text}" is not an IPv6 address (RFC 4291, no zone index)`);
  }
  throw new Error(`"${text}" is not an IPv4 address written as four decimal numbers 0-255 without leading zeros (e.g. 10.64.0.0)`);
}

/** Checks a CIDR range written strictly: a strict address, "/", a prefix length in plain decimal. */
export function strictCidr(text: string): void {
  const slash = text.indexOf('/');
  if (slash < 0) throw new Error(`"${text}" is not a CIDR range like 10.64.0.0/10 (the "/length" is missing)`);
  let family: IpFamily;
  try {
    family = strictIp(text.slice(0, slash));
  } catch (error) {
    throw new Error(`"${text}": ${(error as Error).message}`, { cause: error });
  }
  const length = text.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(length) || Number(length) > max) throw new Error(`"${text}": the prefix length must be a number from 0 to ${max}`);
}

export interface HostPort {
  host: string;
  port: number;
  family: 4 | 6;
}

/**
 * Parses "1.2.3.4", "1.2.3.4:53", "[::1]:53" or a bare "::1". The host must be an IP literal:
 * a resolver that needed a resolver to find its own upstream would be circular.
 * The host comes back in canonical form, as sockets report peer addresses.
 */
export function parseHostPort(text: string, defaultPort: number): HostPort {
  let host = text;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(0|[1-9][0-9]{0,4}))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (text.split(':').length === 2) {
    const [h, p] = text.split(':');
    host = h!;
    if (!/^(0|[1-9][0-9]{0,4})$/.test(p!)) throw new Error(`"${text}": port must be a number`);
    port = Number(p);
  }
  try {
    strictIp(host);
  } catch (error) {
    throw new Error(`"${text}": host must be an IPv4 or IPv6 address: ${(error as Error).message}`, { cause: error });
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`"${text}": port must be 0-65535`);
  const ip = ipaddr.parse(host);
  return { host: ip.toString(), port, family: ip.kind() === 'ipv6' ? 6 : 4 };
}

export function formatHostPort({ host, port, family }: HostPort): string {
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
