import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { nativeUdp, type NativeUdp } from '../../src/transport/native-udp.js';

const addon = nativeUdp();

/**
 * A socket on 127.0.0.1 whose batches go to `onBatch`, with its buffers. `share`: the port
 * is shared (SO_REUSEPORT), its queries spread by ID over `spread` sockets (0: the kernel's hash).
 */
function open(native: NativeUdp, onBatch: (count: number) => void = () => {}, port = 0, share?: { spread: number }) {
  const { slots, slotBytes, meta } = native.constants;
  const buffers = {
    input: Buffer.alloc(slots * slotBytes),
    inputMeta: new Int32Array(slots * meta),
    output: Buffer.alloc(slots * slotBytes),
    outputMeta: new Int32Array(slots * meta),
  };
  const options = { address: '127.0.0.1', port, family: 4, bufferBytes: 0, reusePort: share ? 1 : 0, spread: share?.spread ?? 0 } as const;
  const socket = native.open(options, buffers.input, buffers.inputMeta, buffers.output, buffers.outputMeta, onBatch);
  return { socket, ...buffers };
}

describe.skipIf(process.platform !== 'linux')('the batched UDP addon', () => {
  it('is built', () => {
    expect(addon).not.toBeNull();
  });

  it('turns bad arguments into exceptions, never a crash', () => {
    const native = addon!;
    const { slots, slotBytes, meta } = native.constants;
    const options = { address: '127.0.0.1', port: 0, family: 4, bufferBytes: 0, reusePort: 0, spread: 0 } as const;
    const small = new Int32Array(1);
    expect(() => native.open(options, Buffer.alloc(8), small, Buffer.alloc(8), small, () => {})).toThrow(/buffers too small/);
    const [input, inputMeta, output, outputMeta] = [Buffer.alloc(slots * slotBytes), new Int32Array(slots * meta), Buffer.alloc(slots * slotBytes), new Int32Array(slots * meta)];
    expect(() => native.open({ ...options, address: 'not-an-address' }, input, inputMeta, output, outputMeta, () => {})).toThrow(/not an address/);
    expect(() => native.open({ ...options, family: 6 }, input, inputMeta, output, outputMeta, () => {})).toThrow(/not an address/);
    const { socket } = open(native);
    expect(() => socket.sendTo(Buffer.from('x'), 53, '::1')).toThrow(/not an address of the socket's family/);
    socket.close();
  });

  it('refuses a port another socket holds when not sharing it', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
    try {
      expect(() => open(addon!, () => {}, holder.address().port)).toThrow(/bind: Address already in use/);
    } finally {
      holder.close();
    }
  });

  it('hands the queries of one peer to the sockets sharing a port in turn by query ID, where the kernel would pick one', async () => {
    const native = addon!;
    /** Two sockets on one port, as two workers bind it; resolves with the first two bytes (the ID) of what each received. */
    const received = async (spread: number, messages: Buffer[]): Promise<number[][]> => {
      const ids: number[][] = [[], []];
      const onBatchOf = (which: number, input: () => Buffer) => (count: number) => {
        for (let i = 0; i < count; i++) ids[which]!.push(input().readUInt16BE(i * native.constants.slotBytes));
      };
      const first = open(native, onBatchOf(0, () => first.input), 0, { spread });
      const second = open(native, onBatchOf(1, () => second.input), first.socket.port, { spread });
      const client = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      for (const message of messages) client.send(message, first.socket.port, '127.0.0.1');
      const deadline = Date.now() + 3000;
      while (ids[0]!.length + ids[1]!.length < messages.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      client.close();
      first.socket.close();
      second.socket.close();
      return ids.map((list) => list.sort((a, b) => a - b));
    };
    const queries = Array.from({ length: 200 }, (_, id) => Buffer.concat([Buffer.from([id >> 8, id & 255]), Buffer.alloc(10)]));
    const byId = await received(2, queries);
    const even = Array.from({ length: 100 }, (_, i) => 2 * i);
    const odd = even.map((id) => id + 1);
    expect(byId.sort((a, b) => a[0]! - b[0]!)).toEqual([even, odd]);
    // The kernel's own choice, a hash of the peer's address and port: one peer, one socket.
    const hashed = await received(0, queries);
    expect(hashed.map((list) => list.length).sort((a, b) => a - b)).toEqual([0, 200]);
    // Too short to hold an ID: still delivered, to one of them.
    const short = await received(2, [Buffer.from([7])]);
    expect(short[0]!.length + short[1]!.length).toBe(1);
  });

  it('ignores every call after close, however often', () => {
    const { socket } = open(addon!);
    socket.close();
    socket.close();
    expect(() => {
      socket.flush(64);
      socket.flush(-1);
      socket.sendTo(Buffer.from('late'), 53, '127.0.0.1');
      socket.pause();
    }).not.toThrow();
    expect(socket.stats().sent).toBe(0);
  });

  it('echoes through shared slots, and skips reply slots with a negative or too large length', async () => {
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const got: string[] = [];
    client.on('message', (message) => got.push(message.toString()));
    const server = open(addon!, (count) => {
      const { meta, slotBytes } = addon!.constants;
      for (let i = 0; i < count; i++) {
        const length = server.inputMeta[i * meta]!;
        server.input.copy(server.output, i * slotBytes, i * slotBytes, i * slotBytes + length);
        for (let k = 0; k < meta; k++) server.outputMeta[i * meta + k] = server.inputMeta[i * meta + k]!;
        const text = server.input.toString('latin1', i * slotBytes, i * slotBytes + length);
        if (text === 'skip') server.outputMeta[i * meta] = -1;
        if (text === 'huge') server.outputMeta[i * meta] = slotBytes + 1;
      }
      server.socket.flush(count);
    });
    for (const text of ['one', 'skip', 'huge', 'two']) client.send(text, server.socket.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.close();
    server.socket.close();
    expect(got.sort()).toEqual(['one', 'two']);
    // The sender's port and address came back in the metadata and were used as is.
    expect(server.socket.stats()).toMatchObject({ received: 4, sent: 2, dropped: 0 });
  });
});
