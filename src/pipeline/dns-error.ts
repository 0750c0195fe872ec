import { EdeCode, Rcode } from '../wire/constants.js';

/**
 * A stage's way of saying "answer this query with an error": the rcode the client gets and
 * the Extended DNS Error (RFC 8914) that says why. The responder reads these fields; it
 * needs to know no stage's error classes. Anything else a stage throws is a bug, answered
 * SERVFAIL with EDE 0 and logged.
 */
export class DnsError extends Error {
  /** The EDE text as sent, built once per error class rather than per query. */
  readonly edeText: Buffer;

  constructor(
    message: string,
    readonly rcode: Rcode = Rcode.SERVFAIL,
    readonly ede: EdeCode = EdeCode.OTHER,
    edeText: Buffer = Buffer.from(message),
  ) {
    super(message);
    this.edeText = edeText;
  }
}
