import dns2 from 'dns2';

const { Packet } = dns2;

/**
 * dns2's shipped types lack header bits (CD) and demand class instances for plain records,
 * so tests build packets through this looser view of the same objects.
 */
export interface LoosePacket {
  header: { id: number; qr: number; opcode: number; rd: number; ra: number; tc: number; cd: number; rcode: number };
  questions: Array<{ name: string; type: number; class: number }>;
  answers: object[];
  authorities: object[];
  additionals: Array<{ type: number }>;
  toBuffer(): Buffer;
}

export function newPacket(): LoosePacket {
  return new Packet() as unknown as LoosePacket;
}

export function parsePacket(message: Buffer): LoosePacket {
  return Packet.parse(message) as unknown as LoosePacket;
}

/** dns2's EDNS pseudo-record, as a plain object for `additionals`. */
export function ednsRecord(udpPayloadSize: number, doFlag = false, version = 0): { type: number } {
  return Packet.Resource.EDNS([], { udpPayloadSize, doFlag, version }) as { type: number };
}

export interface QueryOptions {
  id?: number;
  flags?: Partial<{ rd: number; cd: number; opcode: number }>;
  edns?: { udp?: number; do?: boolean; version?: number } | null;
}

/** A request encoded by dns2: an independent encoder, so the reader is not checked against itself. */
export function encodeQuery(name: string, type: number, options: QueryOptions = {}): Buffer {
  const packet = newPacket();
  packet.header.id = options.id ?? 0x1234;
  packet.header.rd = options.flags?.rd ?? 1;
  packet.header.cd = options.flags?.cd ?? 0;
  packet.header.opcode = options.flags?.opcode ?? 0;
  packet.questions.push({ name, type, class: Packet.CLASS.IN });
  if (options.edns !== null) {
    const edns = options.edns ?? {};
    packet.additionals.push(ednsRecord(edns.udp ?? 1232, edns.do ?? false, edns.version ?? 0));
  }
  return packet.toBuffer();
}

export interface ResponseRecord {
  name: string;
  type: number;
  ttl: number;
  address?: string;
  domain?: string;
  data?: string;
}

/** A response encoded by dns2, answering `name`/`type` with the given records. */
export function encodeResponse(
  id: number,
  name: string,
  type: number,
  answers: ResponseRecord[],
  options: { rcode?: number; tc?: boolean; authorities?: object[]; edns?: boolean } = {},
): Buffer {
  const packet = newPacket();
  packet.header.id = id;
  packet.header.qr = 1;
  packet.header.rd = 1;
  packet.header.ra = 1;
  packet.header.tc = options.tc ? 1 : 0;
  packet.header.rcode = options.rcode ?? 0;
  packet.questions.push({ name, type, class: Packet.CLASS.IN });
  for (const answer of answers) packet.answers.push({ class: Packet.CLASS.IN, ...answer });
  for (const authority of options.authorities ?? []) packet.authorities.push(authority);
  if (options.edns) packet.additionals.push(ednsRecord(4096));
  return packet.toBuffer();
}

/** A SOA record of the test zone for an authority section: its own TTL and MINIMUM (RFC 2308 negative caching). */
export function soaRecord(ttl: number, minimum: number): object {
  return {
    name: 'test.wachtpost',
    type: TYPE.SOA,
    class: Packet.CLASS.IN,
    ttl,
    primary: 'ns.test.wachtpost',
    admin: 'hostmaster.test.wachtpost',
    serial: 1,
    refresh: 3600,
    retry: 600,
    expiration: 86400,
    minimum,
  };
}

/** Record type codes the tests use (RFC 1035, 3596, 6891, 9460). */
export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, EDNS: 41, SVCB: 64, HTTPS: 65 } as const;
