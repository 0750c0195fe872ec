import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnDaemon } from './daemon.js';
import { kdig, kdigStatus, type CertificateFiles } from './tls.js';

const START_TIMEOUT_MS = 15_000;

export interface EncryptedUnbound {
  stop(): Promise<void>;
}

/** A name Unbound answers itself, so nothing leaves loopback. */
export const UNBOUND_NAME = 'a.upstream.test';
export const UNBOUND_ADDRESS = '192.0.2.77';

/**
 * Debian's unbound serving DNS over TLS on `tlsPort` and DNS over HTTPS on `httpsPort`
 * (Debian builds it with nghttp2) with `certificate`, answering `upstream.test` from its
 * own local data; all of its state in `dir`.
 */
export async function startEncryptedUnbound(dir: string, certificate: CertificateFiles, tlsPort: number, httpsPort: number): Promise<EncryptedUnbound> {
  const config = [
    'server:',
    `  interface: 127.0.0.1@${tlsPort}`,
    `  interface: 127.0.0.1@${httpsPort}`,
    `  tls-port: ${tlsPort}`,
    `  https-port: ${httpsPort}`,
    `  tls-service-key: "${certificate.key}"`,
    `  tls-service-pem: "${certificate.cert}"`,
    '  do-ip6: no',
    '  access-control: 127.0.0.0/8 allow',
    '  module-config: "iterator"',
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    '  local-zone: "upstream.test." static',
    `  local-data: "${UNBOUND_NAME}. 300 IN A ${UNBOUND_ADDRESS}"`,
    'remote-control:',
    '  control-enable: no',
    '',
  ].join('\n');
  const file = join(dir, `unbound-${tlsPort}.conf`);
  await writeFile(file, config);
  const { child, stderr, stop } = spawnDaemon('unbound', ['-d', '-p', '-c', file]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`unbound exited at start-up:\n${stderr()}`);
    const { stdout } = await kdig(['@127.0.0.1', '-p', String(tlsPort), '+tls', UNBOUND_NAME, 'A']);
    if (kdigStatus(stdout) === 'NOERROR') break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`unbound did not answer over TLS within ${START_TIMEOUT_MS} ms:\n${stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { stop };
}
