import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { nativeTcp } from '../../src/transport/native-tcp.js';
import { connect } from '../support/hostile-tcp.js';

const addon = nativeTcp();
const options = { address: '127.0.0.1', port: 0, family: 4, backlog: 16, reusePort: 0 } as const;

describe.skipIf(process.platform !== 'linux')('the TCP listener of the addon', () => {
  it('is built', () => {
    expect(addon).not.toBeNull();
  });

  it('turns bad arguments into exceptions, never a crash', () => {
    const native = addon!;
    expect(() => native.listenTcp({ ...options, address: 'not-an-address' }, () => false)).toThrow(/not an address/);
    expect(() => native.listenTcp({ ...options, family: 6 }, () => false)).toThrow(/not an address/);
    expect(() => native.listenTcp({ ...options, port: 70_000 }, () => false)).toThrow(/0-65535/);
    expect(() => (native.listenTcp as (options: object) => unknown)(options)).toThrow(/onAccept/);
  });

  it('hands each connection to JS with its peer, resets those refused, and refuses a port held by another socket', async () => {
    const seen: string[] = [];
    let take = false;
    const listener = addon!.listenTcp(options, (fd, address, port) => {
      seen.push(`${address}:${port > 0}`);
      if (!take) return false;
      const socket = new net.Socket({ fd, readable: true, writable: true });
      socket.end('taken');
      return true;
    });
    try {
      const reset = await new Promise<string>((resolve) => {
        const refused = net.connect({ host: '127.0.0.1', port: listener.port, localAddress: '127.0.0.9' });
        refused.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? ''));
        refused.on('end', () => resolve('end'));
      });
      expect(reset).toBe('ECONNRESET');
      take = true;
      const taken = await connect({ host: '127.0.0.1', port: listener.port });
      const text = await new Promise<string>((resolve) => taken!.on('data', (chunk) => resolve(String(chunk))));
      expect(text).toBe('taken');
      taken!.destroy();
      expect(seen).toEqual(['127.0.0.9:true', '127.0.0.1:true']);
      expect(listener.stats()).toMatchObject({ accepted: 2, refused: 1 });
      expect(() => addon!.listenTcp({ ...options, port: listener.port }, () => false)).toThrow(/Address already in use/);
    } finally {
      listener.close();
      listener.close();
    }
  });
});
