/**
 * Reference target: one Node process that answers every query by echoing it with QR set,
 * doing no DNS work at all, so its rate is the ceiling for Node's UDP receive + send on
 * this machine. Usage: node --import tsx bench/throughput/echo-server.ts PORT
 */
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
// The 4 MiB Wachtpost asks for, so bursts are not dropped by a smaller socket buffer.
const BUFFER_BYTES = 4 * 1024 * 1024;
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER_BYTES, sendBufferSize: BUFFER_BYTES });
socket.on('message', (message, peer) => {
  if (message.length < 12) return;
  message.writeUInt8(message.readUInt8(2) | 0x80, 2);
  socket.send(message, peer.port, peer.address);
});
socket.bind(port, '127.0.0.1');
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
