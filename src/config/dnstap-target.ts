import { formatHostPort, parseHostPort, type HostPort } from './address.js';

/** Where dnstap goes: a Unix socket or a TCP address of a Frame Streams reader. */
export type DnstapTarget = { readonly path: string } | HostPort;

/** Parses `unix:PATH` or `tcp:HOST:PORT` (dnstap.target, --dnstap); throws with the reason. */
export function parseDnstapTarget(text: string): DnstapTarget {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path === '') throw new Error(`"${text}": unix: needs the socket's path`);
    return { path };
  }
  if (text.startsWith('tcp:')) {
    const address = parseHostPort(text.slice('tcp:'.length), 0);
    if (address.port === 0) throw new Error(`"${text}": tcp: needs HOST:PORT`);
    return address;
  }
  throw new Error(`"${text}" is neither unix:PATH nor tcp:HOST:PORT`);
}

export function describeTarget(target: DnstapTarget): string {
  return 'path' in target ? `unix:${target.path}` : `tcp:${formatHostPort(target)}`;
}
