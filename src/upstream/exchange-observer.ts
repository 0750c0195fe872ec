import type { Transport } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';
import type { UpstreamServer } from './upstream-server.js';

/** How an upstream was asked: UDP, TCP after truncation, or its own DoT or DoH connection. */
export type ExchangeProtocol = Transport;

/** Why an attempt failed, as metrics label and logs name it. */
export const FAILURE_CAUSES = ['timeout', 'refused', 'unreachable', 'reset', 'tls', 'other'] as const;
export type FailureCause = (typeof FAILURE_CAUSES)[number];

/**
 * Told of every upstream attempt (per-server metrics, upstream health, dnstap's RESOLVER_*
 * messages). Called on the miss path only; must not throw.
 */
export interface ExchangeObserver {
  /** `wire` is being sent to `server`. */
  asked(server: UpstreamServer, protocol: ExchangeProtocol, wire: Buffer): void;
  /** `server` answered, `seconds` after it was asked (over TCP after a truncated UDP answer). */
  answered(server: UpstreamServer, protocol: ExchangeProtocol, answer: Answer, seconds: number): void;
  /** The attempt failed; `detail` is the error's text for logs. */
  failed(server: UpstreamServer, cause: FailureCause, detail: string): void;
}

/** Several observers behind one, so the stage calls one object whatever is attached. */
export class ExchangeObservers implements ExchangeObserver {
  constructor(private readonly list: readonly ExchangeObserver[]) {}

  asked(server: UpstreamServer, protocol: ExchangeProtocol, wire: Buffer): void {
    for (const observer of this.list) observer.asked(server, protocol, wire);
  }

  answered(server: UpstreamServer, protocol: ExchangeProtocol, answer: Answer, seconds: number): void {
    for (const observer of this.list) observer.answered(server, protocol, answer, seconds);
  }

  failed(server: UpstreamServer, cause: FailureCause, detail: string): void {
    for (const observer of this.list) observer.failed(server, cause, detail);
  }
}

const CAUSE_BY_CODE: Record<string, FailureCause> = {
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
};

/** OpenSSL's and Node's certificate and handshake errors: a wrong name, an unknown CA, an expired certificate. */
function isTlsCode(code: string): boolean {
  return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT') || code.includes('SELF_SIGNED') || code.includes('UNABLE_TO_');
}

/**
 * The real cause of a failed attempt: an ICMP port unreachable on the connected UDP socket
 * arrives as ECONNREFUSED, which must read "connection refused", not "no answer in time".
 * (An attempt that does not answer in time is reported as a timeout by the forwarding.)
 */
export function failureCause(error: unknown): { cause: FailureCause; detail: string } {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const cause = typeof code === 'string' ? (CAUSE_BY_CODE[code] ?? (isTlsCode(code) ? 'tls' : 'other')) : 'other';
  const text = typeof message === 'string' ? message : String(error);
  return { cause, detail: cause === 'refused' ? `connection refused (${text})` : text };
}
