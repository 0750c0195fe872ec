import dns2 from 'dns2';

const { Packet } = dns2;

export interface QueryOptions {
  id?: number;
  flags?: Partial<{ rd: number; cd: number; opcode: number }>;
  edns?: { udp?: number; do?: boolean; version?: number } | null;
}

/** A request encoded by dns2: an independent encoder, so the reader is not checked against itself. */
export function encodeQuery(name: string, type: number, options: QueryOptions = {}): Buffer {
  const packet = new Packet();
  packet.header.id = options.id ?? 0x1234;
  packet.header.rd = options.flags?.rd ?? 1;
  packet.header.cd = options.flags?.cd ?? 0;
  packet.header.opcode = options.flags?.opcode ?? 0;
  packet.questions.push({ name, type, class: Packet.CLASS.IN });
  if (options.edns !== null) {
    const edns = options.edns ?? {};
    packet.additionals.push(
      Packet.Resource.EDNS([], { udpPayloadSize: edns.udp ?? 1232, doFlag: edns.do ?? false, version: edns.version ?? 0 }),
    );
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
  const packet = new Packet();
  packet.header.id = id;
  packet.header.qr = 1;
  packet.header.rd = 1;
  packet.header.ra = 1;
  packet.header.tc = options.tc ? 1 : 0;
  packet.header.rcode = options.rcode ?? 0;
  packet.questions.push({ name, type, class: Packet.CLASS.IN });
  for (const answer of answers) packet.answers.push({ class: Packet.CLASS.IN, ...answer });
  for (const authority of options.authorities ?? []) packet.authorities.push(authority);
  if (options.edns) packet.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 4096 }));
  return packet.toBuffer();
}

export const TYPE = Packet.TYPE;
