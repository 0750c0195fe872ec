import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { spawnWithConfig, stopServed, withKnot } from '../integration/harness.js';
import { encodeQuery, TYPE } from '../support/packets.js';
import { childPids } from '../support/served.js';

const upstream = withKnot();

/** Sends queries with IDs 0..count-1 from one socket; resolves with the IDs answered within `waitMs`. */
async function askFromOneSocket(port: number, count: number, waitMs: number): Promise<number[]> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const answered: number[] = [];
  socket.on('message', (reply) => answered.push(reply.readUInt16BE(0)));
  for (let id = 0; id < count; id++) socket.send(encodeQuery('a.test.wachtpost', TYPE.A, { id }), port, '127.0.0.1');
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  socket.close();
  return answered.sort((a, b) => a - b);
}

describe('queries spread over the workers', () => {
  it('hands the queries of one client to every worker in turn by query ID (one worker per core, the default)', async () => {
    const served = await spawnWithConfig('', ['--upstream', `127.0.0.1:${upstream.knot.port}`]);
    const workers = childPids(served.child.pid!);
    const stopped = workers[0];
    try {
      expect(workers.length).toBeGreaterThan(1);
      expect(await askFromOneSocket(served.port, 1, 2000)).toEqual([0]);
      // With one worker stopped, exactly the queries whose ID modulo the worker count falls
      // to another are answered. The kernel's own hash of the client's address and port
      // would answer all of them or none.
      process.kill(stopped!, 'SIGSTOP');
      const n = workers.length;
      const answered = await askFromOneSocket(served.port, 10 * n, 1500);
      expect(answered).toHaveLength(10 * (n - 1));
      expect(new Set(answered.map((id) => id % n)).size).toBe(n - 1);
    } finally {
      process.kill(stopped!, 'SIGCONT');
      await stopServed(served);
    }
  }, 60_000);
});
