import { DnsError } from '../pipeline/dns-error.js';
import { EdeCode, Rcode } from '../wire/constants.js';

/** Sent to clients instead of the detailed message, which names upstream addresses. */
const NO_UPSTREAM_TEXT = Buffer.from('no upstream answered in time');

/** Every upstream attempt failed or the deadline passed: the client gets SERVFAIL (or stale data). */
export class UpstreamFailure extends DnsError {
  override readonly name = 'UpstreamFailure';

  constructor(message: string) {
    super(message, Rcode.SERVFAIL, EdeCode.NO_REACHABLE_AUTHORITY, NO_UPSTREAM_TEXT);
  }
}

/** More upstream exchanges in flight than this worker allows: shed load instead of queueing. */
export class UpstreamOverloaded extends UpstreamFailure {}
