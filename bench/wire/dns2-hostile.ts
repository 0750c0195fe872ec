/**
 * How dns2 3.1.1 and the resolver's own reader handle hostile and odd input, so that a hang
 * shows as a time, not a stall.
 * Each case runs in a child process killed after 10 s (worker threads would not inherit the
 * TypeScript loader on Node 20). Run: node --import tsx bench/wire/dns2-hostile.ts
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dns2 from 'dns2';
import { scanResponse } from '../../src/wire/answer.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, encodeResponse, TYPE } from '../../test/support/packets.js';

const LIMIT_MS = 10_000;

/**
 * A 64 KB message: a 20,000-hop chain of compression pointers, then ~2,000 records whose
 * owner names all point at the chain's end, so a decoder that follows pointers walks it
 * for every record.
 */
function pointerChain(): Buffer {
  const message = Buffer.alloc(65_000);
  message.writeUInt16BE(0x8180, 2);
  message.writeUInt16BE(1, 4);
  message.set([1, 0x61, 0, 0, 1, 0, 1], 12); // question "a" A IN
  let pos = 19;
  message.writeUInt16BE(0xc000 | 12, pos);
  pos += 2;
  while (pos < 40_000) {
    message.writeUInt16BE(0xc000 | (pos - 2), pos);
    pos += 2;
  }
  const chainEnd = pos - 2;
  let records = 0;
  while (pos + 12 <= message.length) {
    message.writeUInt16BE(0xc000 | chainEnd, pos);
    message.set([0, 1, 0, 1, 0, 0, 0, 60, 0, 0], pos + 2); // A IN TTL 60, empty rdata
    pos += 12;
    records++;
  }
  message.writeUInt16BE(records, 6);
  return message.subarray(0, pos);
}

function allCounts65535(): Buffer {
  const message = Buffer.alloc(12, 0xff);
  message.writeUInt16BE(0x1234, 0);
  message.writeUInt16BE(0x0100, 2);
  return message;
}

function highBitTtl(): Buffer {
  const message = encodeResponse(7, 'a.nl', TYPE.A, [{ name: 'a.nl', type: TYPE.A, ttl: 100, address: '192.0.2.1' }]);
  message.writeUInt32BE(0x80000000, message.length - 10);
  return message;
}

function randomPackets(count: number, seed: number): Buffer[] {
  let state = seed;
  const next = (): number => (state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0);
  const base = encodeQuery('www.example.nl', TYPE.A);
  return Array.from({ length: count }, (_, i) => {
    if (i % 2 === 0) return Buffer.from(Array.from({ length: next() % 300 }, () => next() & 0xff));
    const copy = Buffer.from(base);
    for (let e = 0; e < 3; e++) copy[next() % copy.length] = next() & 0xff;
    return copy;
  });
}

type Case = { name: string; run: () => string };

function cases(): Case[] {
  const { Packet } = dns2;
  const request = new WireRequest();
  const probe = new WireRequest();
  readRequest(encodeQuery('a', TYPE.A), probe);
  const dnsParse = (message: Buffer): string => {
    const packet = Packet.parse(message);
    return `${packet.answers.length} answers, ${packet.errors?.length ?? 0} errors`;
  };
  const fuzz = (parse: (message: Buffer) => void): string => {
    let threw = 0;
    for (const message of randomPackets(10_000, 7)) {
      try {
        parse(message);
      } catch {
        threw++;
      }
    }
    return `10,000 packets, ${threw} threw`;
  };
  return [
    { name: 'header with all counts 65535: dns2 Packet.parse', run: () => dnsParse(allCounts65535()) },
    { name: 'header with all counts 65535: readRequest', run: () => `result ${readRequest(allCounts65535(), request)} (2 = FORMERR)` },
    { name: '64 KB compression-pointer chain: dns2 Packet.parse', run: () => dnsParse(pointerChain()) },
    {
      name: '64 KB compression-pointer chain: scanResponse',
      run: () => `result ${scanResponse(pointerChain(), 0, probe.question, probe.questionLength, 1232).result}`,
    },
    { name: 'TTL 0x80000000: dns2 reads', run: () => String(Packet.parse(highBitTtl()).answers[0]!.ttl) },
    {
      name: 'TTL 0x80000000: scanResponse reads (RFC 2181: 0)',
      run: () => {
        const req = new WireRequest();
        readRequest(encodeQuery('a.nl', TYPE.A), req);
        return String(scanResponse(highBitTtl(), 7, req.question, req.questionLength, 1232).answer!.ttlAt(0));
      },
    },
    { name: 'random + mutated packets: dns2 Packet.parse', run: () => fuzz((message) => Packet.parse(message)) },
    { name: 'random + mutated packets: readRequest', run: () => fuzz((message) => readRequest(message, request)) },
  ];
}

const caseIndex = process.argv[2];
if (caseIndex === undefined) {
  process.stdout.write(`node ${process.version}, dns2 ${(await import('dns2/package.json', { with: { type: 'json' } })).default.version}\n\n`);
  process.stdout.write('| case | outcome | time |\n| --- | --- | --- |\n');
  for (let index = 0; index < cases().length; index++) {
    const started = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const child = fork(fileURLToPath(import.meta.url), [String(index)], { execArgv: ['--import', 'tsx'] });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(`did not finish in ${LIMIT_MS / 1000} s`);
      }, LIMIT_MS);
      child.once('message', (message: string) => {
        clearTimeout(timer);
        child.kill();
        resolve(message);
      });
    });
    const ms = performance.now() - started;
    process.stdout.write(`| ${cases()[index]!.name} | ${outcome} | ${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms |\n`);
  }
} else {
  const started = performance.now();
  let outcome: string;
  try {
    outcome = cases()[Number(caseIndex)]!.run();
  } catch (error) {
    outcome = `threw: ${(error as Error).message.split('\n')[0]}`;
  }
  process.send!(`${outcome} (${(performance.now() - started).toFixed(1)} ms parsing)`);
}
