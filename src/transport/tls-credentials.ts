import { hkdfSync, X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import tls from 'node:tls';
import type { Logger } from 'pino';

/** How often the certificate and key files are checked for a renewal (ACME clients replace them). */
const POLL_MS = 2000;

/**
 * The certificate and key of the encrypted listeners, reloaded when either file changes
 * (polled, so a renewal that swaps a symlink or renames a file over the old one is seen
 * too). Connections keep the context they began with; new ones get the new one. A file
 * that does not load keeps the old context and is logged.
 *
 * Session tickets are encrypted with keys derived from the private key, so every worker
 * and every instance with the same key can resume another's sessions (TLS 1.3 resumption
 * whichever worker the kernel hands the connection to), and a new key retires old tickets.
 */
export class TlsCredentials {
  private loaded: { options: tls.SecureContextOptions; context: tls.SecureContext; clientCas: X509Certificate[] };
  private readonly listeners: ((options: tls.SecureContextOptions) => void)[] = [];
  private readonly onChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) this.reload();
  };

  private constructor(
    private readonly certFile: string,
    private readonly keyFile: string,
    /** CA of the devices' client certificates (mTLS), or '' for none. */
    private readonly clientCaFile: string,
    private readonly log: Logger,
  ) {
    this.loaded = TlsCredentials.load(certFile, keyFile, clientCaFile);
  }

  /** Loads the files; throws with the file and the reason when one is unusable. */
  static open(certFile: string, keyFile: string, clientCaFile: string, log: Logger): TlsCredentials {
    const credentials = new TlsCredentials(certFile, keyFile, clientCaFile, log);
    watchFile(certFile, { interval: POLL_MS, persistent: false }, credentials.onChange);
    watchFile(keyFile, { interval: POLL_MS, persistent: false }, credentials.onChange);
    return credentials;
  }

  /** Whether devices are asked for a client certificate (mTLS). */
  get requestsClientCertificates(): boolean {
    return this.clientCaFile !== '';
  }

  /** The device CA's certificates that client certificates must be signed by. */
  get clientCas(): readonly X509Certificate[] {
    return this.loaded.clientCas;
  }

  private static load(certFile: string, keyFile: string, clientCaFile: string): TlsCredentials['loaded'] {
    const cert = read(certFile, 'certificate');
    const key = read(keyFile, 'key');
    const ca = clientCaFile === '' ? undefined : read(clientCaFile, 'client CA');
    try {
      const ticketKeys = Buffer.from(hkdfSync('sha256', key, 'wachtpost', 'dns session tickets', 48));
      const options: tls.SecureContextOptions = { cert, key, minVersion: 'TLSv1.2', ticketKeys, ...(ca === undefined ? {} : { ca }) };
      return { options, context: tls.createSecureContext(options), clientCas: ca === undefined ? [] : certificatesIn(ca) };
    } catch (error) {
      throw new Error(`TLS certificate ${certFile} and key ${keyFile} do not load: ${(error as Error).message}`);
    }
  }

  get current(): tls.SecureContext {
    return this.loaded.context;
  }

  /** The options the current context was made from (a server's setSecureContext takes these). */
  get options(): tls.SecureContextOptions {
    return this.loaded.options;
  }

  /** Called with the options of every context that replaces the current one (DoH's server takes it this way). */
  changed(listener: (options: tls.SecureContextOptions) => void): void {
    this.listeners.push(listener);
  }

  reload(): void {
    try {
      this.loaded = TlsCredentials.load(this.certFile, this.keyFile, this.clientCaFile);
    } catch (error) {
      this.log.warn({ err: error }, 'TLS certificate not reloaded; the previous one stays in use');
      return;
    }
    for (const listener of this.listeners) listener(this.loaded.options);
    this.log.info({ cert: this.certFile }, 'TLS certificate reloaded');
  }

  close(): void {
    unwatchFile(this.certFile, this.onChange);
    unwatchFile(this.keyFile, this.onChange);
  }
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`);
  }
}

/** Every certificate of a PEM bundle. */
function certificatesIn(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('the client CA file holds no PEM certificate');
  return blocks.map((block) => new X509Certificate(block));
}
