import { describe, expect, it } from 'vitest';
import { wireLatencies } from '../../bench/throughput/wire-capture.js';

const SERVER = 5353;

/** One Ethernet-framed IPv4 UDP packet record carrying a DNS ID, at `ns` nanoseconds. */
function record(ns: bigint, from: number, to: number, id: number, protocol = 17): Buffer {
  const frame = Buffer.alloc(14 + 20 + 8 + 12);
  frame.writeUInt16BE(0x0800, 12);
  frame[14] = 0x45; // IPv4, 20-byte header
  frame[14 + 9] = protocol;
  frame.writeUInt16BE(from, 34);
  frame.writeUInt16BE(to, 36);
  frame.writeUInt16BE(id, 42);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(Number(ns / 1_000_000_000n), 0);
  header.writeUInt32LE(Number(ns % 1_000_000_000n), 4);
  header.writeUInt32LE(frame.length, 8);
  header.writeUInt32LE(frame.length, 12);
  return Buffer.concat([header, frame]);
}

function pcap(...records: Buffer[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b23c4d, 0); // nanosecond timestamps
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(96, 16);
  header.writeUInt32LE(1, 20); // Ethernet, as Linux captures loopback
  return Buffer.concat([header, ...records]);
}

describe('latency on the wire from a pcap capture', () => {
  const t0 = 1_795_000_000_000_000_000n; // a 2026 timestamp: beyond a double's integer precision in ns
  it('matches each reply to its query by client port and DNS ID, across a second boundary', () => {
    const { latencies, queries } = wireLatencies(
      pcap(
        record(t0 + 999_999_000n, 40000, SERVER, 7), // query, reply 1.5 µs later in the next second
        record(t0 + 999_999_500n, 40001, SERVER, 7), // same ID, other client: its own query
        record(t0 + 1_000_000_500n, SERVER, 40000, 7),
        record(t0 + 1_000_900_000n, SERVER, 40001, 7),
        record(t0 + 1_001_000_000n, SERVER, 40002, 9), // a reply whose query was not captured
        record(t0 + 1_002_000_000n, 40003, SERVER, 1, 6), // not UDP
      ),
      SERVER,
    );
    expect(queries).toBe(2);
    expect([...latencies].map((s) => Math.round(s * 1e9))).toEqual([1500, 900_500]);
  });

  it('refuses a file that is not a pcap capture', () => {
    expect(() => wireLatencies(Buffer.alloc(64), SERVER)).toThrow(/pcap/);
  });
});
