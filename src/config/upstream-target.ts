import { parseHostPort, type HostPort } from './address.js';

/**
 * An upstream resolver: plain DNS (UDP, TCP after truncation), DNS over TLS (RFC 7858) or
 * DNS over HTTPS (RFC 8484). For the encrypted ones, `name` is what the server's
 * certificate is checked against (the host itself when none is given: its IP must then be
 * in the certificate), and `path` the DoH path.
 */
export type UpstreamTarget =
  | (HostPort & { readonly kind: 'plain' })
  | (HostPort & { readonly kind: 'dot'; readonly name: string })
  | (HostPort & { readonly kind: 'doh'; readonly name: string; readonly path: string });

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function certificateName(text: string, fragment: string | undefined, host: string): string {
  if (fragment === undefined) return host;
  const name = fragment.toLowerCase();
  if (name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) throw new Error(`"${text}": "#${fragment}" is not a host name to check the certificate against`);
  return name;
}

/**
 * Parses `HOST[:PORT]` (plain), `tls://HOST[:PORT][#NAME]` (DoT, port 853) or
 * `https://HOST[:PORT][/PATH][#NAME]` (DoH, port 443, path /dns-query). HOST is an IP
 * literal, as for plain servers (a resolver must not need a resolver to find its upstream),
 * IPv6 in brackets. Throws with the reason.
 */
export function parseUpstreamTarget(text: string, plainPort = 53): UpstreamTarget {
  try {
    return parseTarget(text, plainPort);
  } catch (error) {
    const message = (error as Error).message;
    throw message.startsWith(`"${text}"`) ? error : new Error(`"${text}": ${message}`, { cause: error });
  }
}

function parseTarget(text: string, plainPort: number): UpstreamTarget {
  const scheme = /^([a-z]+):\/\//.exec(text)?.[1];
  if (scheme === undefined) {
    if (text.includes('#') || text.includes('/')) throw new Error(`"${text}": a name or path needs tls:// or https://`);
    return { kind: 'plain', ...parseHostPort(text, plainPort) };
  }
  const rest = text.slice(scheme.length + 3);
  const hash = rest.indexOf('#');
  const beforeName = hash < 0 ? rest : rest.slice(0, hash);
  const fragment = hash < 0 ? undefined : rest.slice(hash + 1);
  if (scheme === 'tls') {
    if (beforeName.includes('/')) throw new Error(`"${text}": tls:// takes HOST[:PORT][#NAME], no path`);
    const address = parseHostPort(beforeName, 853);
    if (address.port === 0) throw new Error(`"${text}": an upstream needs a real port`);
    return { kind: 'dot', ...address, name: certificateName(text, fragment, address.host) };
  }
  if (scheme === 'https') {
    const slash = beforeName.indexOf('/');
    const authority = slash < 0 ? beforeName : beforeName.slice(0, slash);
    const path = slash < 0 ? '/dns-query' : beforeName.slice(slash);
    if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(path) || path.includes('{')) throw new Error(`"${text}": "${path}" is not a plain URL path`);
    const address = parseHostPort(authority, 443);
    if (address.port === 0) throw new Error(`"${text}": an upstream needs a real port`);
    return { kind: 'doh', ...address, name: certificateName(text, fragment, address.host), path };
  }
  throw new Error(`"${text}": scheme ${scheme}:// is not one of tls:// or https://`);
}
