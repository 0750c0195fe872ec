import ipaddr from 'ipaddr.js';

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
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (text.split(':').length === 2) {
    const [h, p] = text.split(':');
    host = h!;
    if (!/^\d+$/.test(p!)) throw new Error(`"${text}": port must be a number`);
    port = Number(p);
  }
  if (!ipaddr.isValid(host)) throw new Error(`"${text}": host must be an IPv4 or IPv6 address`);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`"${text}": port must be 0-65535`);
  const ip = ipaddr.parse(host);
  return { host: ip.toString(), port, family: ip.kind() === 'ipv6' ? 6 : 4 };
}

export function formatHostPort({ host, port, family }: HostPort): string {
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
