/** DNS wire constants (RFC 1035, 6891, 8914). Numbers only: the hot path never looks up names. */

export const HEADER_LENGTH = 12;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire, a label at most 63. */
export const MAX_NAME_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;
/** Classic UDP payload limit for clients that send no EDNS0 (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;

export const Flag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;
export type Flag = (typeof Flag)[keyof typeof Flag];
export const OPCODE_MASK = 0x7800;
export const RCODE_MASK = 0x000f;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (12-bit) rcode 16: only expressible with an OPT record. */
  BADVERS: 16,
} as const;
export type Rcode = (typeof Rcode)[keyof typeof Rcode];

export const RrType = {
  A: 1,
  SOA: 6,
  TXT: 16,
  CNAME: 5,
  AAAA: 28,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
} as const;
export type RrType = (typeof RrType)[keyof typeof RrType];

/** EDNS0 DO bit inside the OPT record's TTL field (RFC 3225). */
export const EDNS_DO = 0x8000;

export const RrClass = {
  IN: 1,
  /** CHAOS: the server's own identity (version.bind, id.server, …). */
  CH: 3,
} as const;
export const EDNS_OPTION_EDE = 15;

/** RFC 8914 info-codes used by the resolver itself. */
export const EdeCode = {
  OTHER: 0,
  STALE_ANSWER: 3,
  BLOCKED: 15,
  FILTERED: 17,
  PROHIBITED: 18,
  NOT_READY: 14,
  /** RFC 8914: e.g. a query without RD to a server that only recurses. */
  NOT_AUTHORITATIVE: 20,
  NOT_SUPPORTED: 21,
  NO_REACHABLE_AUTHORITY: 22,
} as const;
export type EdeCode = (typeof EdeCode)[keyof typeof EdeCode];
