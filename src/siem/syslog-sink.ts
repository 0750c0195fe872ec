import net from 'node:net';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/address.js';
import type { Config } from '../config/schema.js';
import { FailureLog } from '../logging/failure-log.js';
import type { SiemSink, SinkOptions } from './sink.js';
import { StreamSink } from './stream-sink.js';
import { octetCounted } from './syslog.js';
import { UdpSender } from './udp-sender.js';

/** Port of RFC 5426 (UDP) and, by common use, of plain TCP syslog. */
const SYSLOG_PORT = 514;
/** Dead receivers that never answered a FIN are found by keepalive probes after this idle time. */
const KEEPALIVE_MS = 60_000;

/** The configured syslog sender; throws an Error naming the setting when the target is malformed. */
export function openSyslogSink(settings: Config['siem']['syslog'], log: Logger, options: SinkOptions): SiemSink {
  let target;
  try {
    target = parseHostPort(settings.target, SYSLOG_PORT);
  } catch (error) {
    throw new Error(`siem.syslog.target: ${(error as Error).message}`);
  }
  const failures = new FailureLog(log, `siem syslog ${settings.protocol} to ${settings.target}`);
  if (settings.protocol === 'udp') return new UdpSender(target, failures, options);
  const connect = (): net.Socket => {
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setKeepAlive(true, KEEPALIVE_MS);
    // Receivers send nothing meaningful back; reading keeps their bytes from piling up.
    socket.resume();
    return socket;
  };
  return new StreamSink(connect, octetCounted, failures, options);
}
