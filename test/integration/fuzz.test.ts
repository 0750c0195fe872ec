import dgram from 'node:dgram';
import { beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../support/dig.js';
import { encodeQuery } from '../support/packets.js';
import { sleep, withKnotUpstream, type RunningWachtpost } from './harness.js';

const PACKETS = 100_000;
const BATCH = 500;
/** Hard bound on the whole run, whatever the machine's speed. */
const TIME_LIMIT_MS = 60_000;

const setup = withKnotUpstream();
let wp: RunningWachtpost;
beforeAll(() => {
  wp = setup.wp;
});

/** A small deterministic PRNG so a failing run can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state;
  };
}

const seeds = [
  encodeQuery('a.test.wachtpost', 1, { id: 1, edns: { udp: 1232 } }),
  encodeQuery('chain.test.wachtpost', 1, { id: 2, edns: { udp: 1232, do: true } }),
  encodeQuery('https.test.wachtpost', 65, { id: 3, edns: null }),
  encodeQuery('unknown.test.wachtpost', 65280, { id: 4, edns: { udp: 512 } }),
];

function mutate(random: () => number, index: number): Buffer {
  if (index % 4 === 0) {
    const random_packet = Buffer.alloc(random() % 600);
    for (let i = 0; i < random_packet.length; i++) random_packet[i] = random() & 0xff;
    if (random_packet.length > 2 && index % 8 === 0) random_packet[2]! &= 0x7f; // mostly queries, so they get past the QR check
    return random_packet;
  }
  const packet = Buffer.from(seeds[random() % seeds.length]!);
  const edits = 1 + (random() % 4);
  for (let e = 0; e < edits; e++) {
    const at = random() % packet.length;
    switch (random() % 5) {
      case 0:
        packet[at]! ^= 1 << (random() % 8);
        break;
      case 1:
        packet[at] = random() & 0xff;
        break;
      case 2:
        packet[4 + (random() % 8)] = random() & 0xff; // section counts
        break;
      case 3:
        packet[12 + (random() % 8)] = 0xc0 | (random() & 0x3f); // compression pointers in the question
        break;
      default:
        return packet.subarray(0, at);
    }
  }
  packet[2]! &= 0x7f;
  return packet;
}

describe('fuzzing the running server', () => {
  it(`survives ${PACKETS} random and mutated packets and still answers correctly`, async () => {
    // The resolver answers a whole received batch in one send: a default-sized receive buffer
    // would drop replies here, on the client's side.
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    let replies = 0;
    socket.on('message', () => replies++);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const random = prng(0x5eed);
    const deadline = Date.now() + TIME_LIMIT_MS;
    let sent = 0;
    while (sent < PACKETS && Date.now() < deadline) {
      for (let i = 0; i < BATCH; i++, sent++) socket.send(mutate(random, sent), wp.server.port, wp.server.host);
      // Let the server drain its socket buffer: the point is hostile content, not a flood.
      await sleep(5);
    }
    await sleep(500);
    socket.close();
    expect(sent).toBe(PACKETS);
    expect(replies).toBeGreaterThan(PACKETS / 10);
    expect(wp.resolver.responder.counters.internalErrors).toBe(0);

    const after = await dig(wp.server, 'a.test.wachtpost', 'A');
    expect(after.status).toBe('NOERROR');
    expect(after.answer.map((record) => record.data)).toEqual(['192.0.2.10']);
    const https = await dig(wp.server, 'https.test.wachtpost', 'HTTPS', { tcp: true });
    expect(https.status).toBe('NOERROR');
  }, 90_000);
});
