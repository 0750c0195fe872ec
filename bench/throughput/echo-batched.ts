/**
 * Reference target: Wachtpost's own UDP I/O with no DNS work. PROCESSES processes bind the
 * port side by side through the batching addon, as the workers do, and answer each query of
 * a batch by echoing it with QR set, in one send. What Wachtpost spends above this target
 * on the hot workload is what its DNS work costs.
 * Usage: node --import tsx bench/throughput/echo-batched.ts PORT PROCESSES
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { batchBuffers, nativeUdp, type NativeUdpSocket } from '../../src/transport/native-udp.js';
import { SOCKET_BUFFER_BYTES } from '../../src/transport/udp-listener.js';

const port = Number(process.argv[2]);
const processes = Number(process.argv[3]);

function echo(): void {
  const native = nativeUdp();
  if (native === null) throw new Error('the batching addon is not built (npm ci builds it)');
  const { slotBytes, meta, input, inputMeta, output, outputMeta } = batchBuffers(native);
  let socket: NativeUdpSocket | null = null;
  const onBatch = (count: number): void => {
    let replies = 0;
    for (let i = 0; i < count; i++) {
      const length = inputMeta[i * meta]!;
      if (length < 12) continue;
      const at = replies * slotBytes;
      input.copy(output, at, i * slotBytes, i * slotBytes + length);
      output[at + 2]! |= 0x80;
      for (let k = 0; k < meta; k++) outputMeta[replies * meta + k] = inputMeta[i * meta + k]!;
      replies++;
    }
    socket!.flush(replies);
  };
  const options = { address: '127.0.0.1', port, family: 4, bufferBytes: SOCKET_BUFFER_BYTES, reusePort: 1, spread: processes } as const;
  socket = native.open(options, input, inputMeta, output, outputMeta, onBatch);
}

if (process.argv[4] === 'child') echo();
else {
  const children: ChildProcess[] = [];
  for (let i = 0; i < processes; i++) {
    const child = fork(fileURLToPath(import.meta.url), [String(port), String(processes), 'child'], { execArgv: ['--import', 'tsx'] });
    // A process that could not bind takes the echo down, so the harness reports the start-up failure at once.
    child.once('exit', (code) => {
      if (code !== 0) process.exit(1);
    });
    children.push(child);
  }
  process.on('SIGTERM', () => {
    for (const child of children) child.kill('SIGTERM');
    process.exit(0);
  });
}
