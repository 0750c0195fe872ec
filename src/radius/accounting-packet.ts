import { createHash, timingSafeEqual } from 'node:crypto';
import ipaddr from 'ipaddr.js';

/** RADIUS codes (RFC 2866 §3, §4). */
export const Code = { ACCOUNTING_REQUEST: 4, ACCOUNTING_RESPONSE: 5 } as const;

/** Acct-Status-Type values (RFC 2866 §5.1). */
export const StatusType = { START: 1, STOP: 2, INTERIM_UPDATE: 3, ACCOUNTING_ON: 7, ACCOUNTING_OFF: 8 } as const;
export type StatusType = (typeof StatusType)[keyof typeof StatusType];

/** The attributes read here (RFC 2865 §5, RFC 2866 §5, RFC 4372, RFC 6911). */
export const Attribute = {
  USER_NAME: 1,
  FRAMED_IP_ADDRESS: 8,
  CLASS: 25,
  CALLING_STATION_ID: 31,
  ACCT_STATUS_TYPE: 40,
  ACCT_SESSION_ID: 44,
  CHARGEABLE_USER_IDENTITY: 89,
  FRAMED_IPV6_ADDRESS: 168,
} as const;

/** The attributes an operator may choose as a session's identity (`identity.radius.identity_attribute`). */
export const IDENTITY_ATTRIBUTES = {
  'User-Name': Attribute.USER_NAME,
  'Calling-Station-Id': Attribute.CALLING_STATION_ID,
  Class: Attribute.CLASS,
  'Chargeable-User-Identity': Attribute.CHARGEABLE_USER_IDENTITY,
} as const;
export type IdentityAttribute = keyof typeof IDENTITY_ATTRIBUTES;

const HEADER = 20;
/** RFC 2865 §3: 20 to 4096 octets. */
const MAX_LENGTH = 4096;

/** What one Accounting-Request says about a session, the attributes it did not ask for left out. */
export interface AccountingRecord {
  readonly identifier: number;
  readonly authenticator: Buffer;
  /** Acct-Status-Type: one of StatusType, or another (tunnel accounting, RFC 2867) that is acknowledged and not acted on. */
  readonly status: number;
  /** Framed-IP-Address, or Framed-IPv6-Address (RFC 6911), as text; null when neither is there. */
  readonly address: string | null;
  /** The chosen identity attribute's value as sent, or null. */
  readonly identity: string | null;
  readonly sessionId: string | null;
}

/** Why a datagram is not an Accounting-Request this listener may act on. */
export type Rejection = 'malformed' | 'not_accounting' | 'bad_authenticator';

export class AccountingRejected extends Error {
  constructor(
    readonly reason: Rejection,
    message: string,
  ) {
    super(message);
  }
}

function md5(...parts: Buffer[]): Buffer {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const ZEROS = Buffer.alloc(16);

/**
 * Reads and authenticates one Accounting-Request (RFC 2866) strictly: the length field
 * within 20..4096 and no longer than the datagram (octets beyond it are padding, §3), every
 * attribute at least 2 octets and inside the packet, Acct-Status-Type present,
 * the address attributes of their fixed sizes, and the Request Authenticator equal to
 * MD5(code, identifier, length, 16 zero octets, attributes, secret), compared in constant
 * time on the bytes. Anything else throws AccountingRejected with the reason.
 */
export function readAccountingRequest(datagram: Buffer, secret: Buffer, identityAttribute: number): AccountingRecord {
  if (datagram.length < HEADER) throw new AccountingRejected('malformed', `${datagram.length} octets, shorter than a RADIUS header`);
  const length = datagram.readUInt16BE(2);
  if (length < HEADER || length > MAX_LENGTH || length > datagram.length) {
    throw new AccountingRejected('malformed', `length field ${length} for a datagram of ${datagram.length} octets`);
  }
  if (datagram[0] !== Code.ACCOUNTING_REQUEST) throw new AccountingRejected('not_accounting', `code ${datagram[0]} is no Accounting-Request`);
  const packet = datagram.subarray(0, length);
  const authenticator = packet.subarray(4, HEADER);
  const expected = md5(packet.subarray(0, 4), ZEROS, packet.subarray(HEADER), secret);
  if (!timingSafeEqual(expected, authenticator)) throw new AccountingRejected('bad_authenticator', 'the Request Authenticator does not match the shared secret');

  let status: number | null = null;
  let address: string | null = null;
  let identity: string | null = null;
  let sessionId: string | null = null;
  for (let at = HEADER; at < length; ) {
    if (at + 2 > length) throw new AccountingRejected('malformed', `attribute header cut short at octet ${at}`);
    const type = packet[at]!;
    const size = packet[at + 1]!;
    if (size < 2 || at + size > length) throw new AccountingRejected('malformed', `attribute ${type} of length ${size} at octet ${at} overruns the packet`);
    if (type === 0) throw new AccountingRejected('malformed', `attribute type 0 at octet ${at}`);
    const value = packet.subarray(at + 2, at + size);
    at += size;
    // Attributes not read here (octet counts, vendor-specific ones) are skipped, as RFC 2865 §5 allows.
    if (type === Attribute.ACCT_STATUS_TYPE) {
      if (value.length !== 4) throw new AccountingRejected('malformed', `Acct-Status-Type of ${value.length} octets`);
      status = value.readUInt32BE(0);
    } else if (type === Attribute.FRAMED_IP_ADDRESS) {
      if (value.length !== 4) throw new AccountingRejected('malformed', `Framed-IP-Address of ${value.length} octets`);
      address = `${value[0]}.${value[1]}.${value[2]}.${value[3]}`;
    } else if (type === Attribute.FRAMED_IPV6_ADDRESS) {
      if (value.length !== 16) throw new AccountingRejected('malformed', `Framed-IPv6-Address of ${value.length} octets`);
      address ??= ipaddr.fromByteArray([...value]).toString();
    } else if (type === Attribute.ACCT_SESSION_ID) {
      sessionId = value.toString('latin1');
    }
    // Not else-if: the identity may be one of the attributes above (an operator's choice).
    if (type === identityAttribute && value.length > 0) identity = value.toString('latin1');
  }
  if (status === null) throw new AccountingRejected('malformed', 'no Acct-Status-Type');
  return { identifier: packet[1]!, authenticator: Buffer.from(authenticator), status, address, identity, sessionId };
}

/** The Accounting-Response to a request (RFC 2866 §3): no attributes, its authenticator over the request's. */
export function accountingResponse(request: Pick<AccountingRecord, 'identifier' | 'authenticator'>, secret: Buffer): Buffer {
  const response = Buffer.alloc(HEADER);
  response[0] = Code.ACCOUNTING_RESPONSE;
  response[1] = request.identifier;
  response.writeUInt16BE(HEADER, 2);
  md5(response.subarray(0, 4), request.authenticator, secret).copy(response, 4);
  return response;
}
