import dgram from 'node:dgram';
import net from 'node:net';
import { TYPE, ednsRecord, newPacket, parsePacket, soaRecord, type LoosePacket } from './packets.js';
import { freePort } from './ports.js';

export interface FixtureRecord {
  type: 'A' | 'AAAA' | 'TXT';
  ttl: number;
  data: string;
}

export type Behaviour =
  | 'answer'
  | 'silent'
  | 'servfail'
  | 'refused'
  /** TC=1 with no records over UDP, the full answer over TCP. */
  | 'truncate-udp'
  | { delayMs: number }
  /** Before the real answer, a forged one: same socket with ID+1, same socket with another question, or another socket. */
  | { spoofFirst: 'wrong-id' | 'wrong-question' | 'other-source'; spoofAddress: string };

export interface ReceivedQuery {
  name: string;
  type: number;
  id: number;
  transport: 'udp' | 'tcp';
  sourcePort: number;
  at: number;
}

export interface ScriptedUpstream {
  host: '127.0.0.1';
  port: number;
  queries: ReceivedQuery[];
  setBehaviour(behaviour: Behaviour): void;
  /** Replaces the records of one name (e.g. another TTL from now on). */
  setRecords(name: string, list: FixtureRecord[]): void;
  stop(): Promise<void>;
}

/** The rcode a behaviour answers every question with, over UDP and TCP alike; undefined for the others. */
const FAILURE_RCODES: Partial<Record<string, number>> = { servfail: 2, refused: 5 };
function failureRcode(behaviour: Behaviour): number | undefined {
  return typeof behaviour === 'string' ? FAILURE_RCODES[behaviour] : undefined;
}

/**
 * A misbehaving-on-demand upstream on loopback (UDP and TCP, one port) for failure-mode
 * tests. It echoes the question as asked (case included, like Knot), or lower-cased with
 * `lowercase`, like upstreams that do not keep case.
 */
export async function startScriptedUpstream(
  options: { records?: Record<string, FixtureRecord[]>; behaviour?: Behaviour; port?: number; lowercase?: boolean } = {},
): Promise<ScriptedUpstream> {
  const records = new Map(Object.entries(options.records ?? {}).map(([name, list]) => [name.toLowerCase(), list]));
  let behaviour: Behaviour = options.behaviour ?? 'answer';
  const queries: ReceivedQuery[] = [];
  const port = options.port ?? (await freePort());
  const udp = dgram.createSocket('udp4');
  const forger = dgram.createSocket('udp4');
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };

  function respond(query: LoosePacket, opts: { tc?: boolean; rcode?: number; forgedAddress?: string; id?: number; name?: string }): Buffer {
    const question = query.questions[0]!;
    const response = newPacket();
    response.header.id = opts.id ?? query.header.id;
    response.header.qr = 1;
    response.header.rd = query.header.rd;
    response.header.ra = 1;
    response.header.tc = opts.tc ? 1 : 0;
    const asked = opts.name ?? question.name;
    const name = options.lowercase ? asked.toLowerCase() : asked;
    response.questions.push({ name, type: question.type, class: question.class });
    const known = records.get(question.name.toLowerCase());
    if (opts.rcode !== undefined) response.header.rcode = opts.rcode;
    else if (opts.forgedAddress !== undefined) {
      response.answers.push({ name, type: TYPE.A, class: 1, ttl: 3600, address: opts.forgedAddress });
    } else if (opts.tc) {
      // Nothing: a truncated answer carries no records here.
    } else if (known === undefined) {
      response.header.rcode = 3;
      response.authorities.push(soaRecord(300, 30));
    } else {
      for (const record of known) {
        const type = TYPE[record.type];
        if (type !== question.type) continue;
        const rdata = record.type === 'TXT' ? { data: record.data } : { address: record.data };
        response.answers.push({ name, type, class: 1, ttl: record.ttl, ...rdata });
      }
    }
    if (query.additionals.some((record) => record.type === TYPE.EDNS)) response.additionals.push(ednsRecord(1232));
    return response.toBuffer();
  }

  function record(query: LoosePacket, transport: 'udp' | 'tcp', sourcePort: number): void {
    const question = query.questions[0]!;
    queries.push({ name: question.name, type: question.type, id: query.header.id, transport, sourcePort, at: Date.now() });
  }

  udp.on('message', (msg, rinfo) => {
    let query: LoosePacket;
    try {
      query = parsePacket(msg);
    } catch {
      return;
    }
    if (query.questions.length !== 1) return;
    record(query, 'udp', rinfo.port);
    const reply = (message: Buffer, from = udp): void => {
      from.send(message, rinfo.port, rinfo.address);
    };
    const current = behaviour;
    if (current === 'silent') return;
    const rcode = failureRcode(current);
    if (rcode !== undefined) return reply(respond(query, { rcode }));
    if (current === 'truncate-udp') return reply(respond(query, { tc: true }));
    if (typeof current === 'object' && 'delayMs' in current) return later(current.delayMs, () => reply(respond(query, {})));
    if (typeof current === 'object' && 'spoofFirst' in current) {
      const forged = { forgedAddress: current.spoofAddress };
      if (current.spoofFirst === 'wrong-id') reply(respond(query, { ...forged, id: (query.header.id + 1) & 0xffff }));
      else if (current.spoofFirst === 'wrong-question') reply(respond(query, { ...forged, name: `evil.${query.questions[0]!.name}` }));
      else reply(respond(query, forged), forger);
      return later(50, () => reply(respond(query, {})));
    }
    reply(respond(query, {}));
  });

  const tcp = net.createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        const query = parsePacket(message);
        record(query, 'tcp', socket.remotePort ?? 0);
        if (behaviour === 'silent') continue;
        const rcode = failureRcode(behaviour);
        const answer = respond(query, rcode === undefined ? {} : { rcode });
        const length = Buffer.alloc(2);
        length.writeUInt16BE(answer.length);
        const send = (): void => void socket.write(Buffer.concat([length, answer]));
        if (typeof behaviour === 'object' && 'delayMs' in behaviour) later(behaviour.delayMs, send);
        else send();
      }
    });
  });

  await new Promise<void>((resolve) => udp.bind(port, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => forger.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve));

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    queries,
    setBehaviour(next) {
      behaviour = next;
    },
    setRecords(name, list) {
      records.set(name.toLowerCase(), list);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      udp.close();
      forger.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
