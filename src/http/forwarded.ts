import type { FastifyRequest } from 'fastify';

/**
 * Whether the browser reached this server over HTTPS: TLS here, or a trusted reverse proxy
 * saying so, in X-Forwarded-Proto (which Fastify reads through its trustProxy option) or in
 * RFC 7239's Forwarded header (which it does not). Only the nearest proxy's element counts:
 * anything before it came from the client and proves nothing.
 */
export function viaHttps(request: FastifyRequest, fromTrustedProxy: (address: string) => boolean): boolean {
  if (request.protocol === 'https') return true;
  const forwarded = request.headers.forwarded;
  const peer = request.socket.remoteAddress;
  if (forwarded === undefined || peer === undefined || !fromTrustedProxy(peer)) return false;
  const nearest = forwarded.slice(forwarded.lastIndexOf(',') + 1);
  return nearest.split(';').some((pair) => {
    const [name, value] = pair.split('=', 2).map((part) => part.trim().toLowerCase());
    return name === 'proto' && (value === 'https' || value === '"https"');
  });
}
