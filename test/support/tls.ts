import { execFile } from 'node:child_process';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';

export interface CertificateFiles {
  cert: string;
  key: string;
}

function run(command: string, args: string[], timeoutMs = 20_000): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ stdout, stderr, code });
    });
  });
}

/**
 * A self-signed ECDSA certificate for `name` and `*.name` written by Debian's openssl into
 * `dir` as `<prefix>.pem` and `<prefix>-key.pem`; written beside and renamed over, as an
 * ACME client replaces a renewed certificate.
 */
export async function makeCertificate(dir: string, name: string, prefix = 'server'): Promise<CertificateFiles> {
  const files = { cert: join(dir, `${prefix}.pem`), key: join(dir, `${prefix}-key.pem`) };
  const fresh = { cert: `${files.cert}.new`, key: `${files.key}.new` };
  const made = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', fresh.key, '-out', fresh.cert, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name},DNS:*.${name}`,
  ]);
  if (made.code !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  await rename(fresh.key, files.key);
  await rename(fresh.cert, files.cert);
  return files;
}

/**
 * A device CA and a client certificate with subject CN `device` it signed, in `dir`
 * (`<prefix>-ca.pem`, `<prefix>-client.pem`, `<prefix>-client-key.pem`).
 */
export async function makeClientCertificate(dir: string, device: string, prefix: string): Promise<{ ca: string; cert: string; key: string }> {
  const files = { ca: join(dir, `${prefix}-ca.pem`), caKey: join(dir, `${prefix}-ca-key.pem`), cert: join(dir, `${prefix}-client.pem`), key: join(dir, `${prefix}-client-key.pem`), csr: join(dir, `${prefix}.csr`) };
  const steps: string[][] = [
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', files.caKey, '-out', files.ca, '-subj', `/CN=${prefix} device CA`],
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.key, '-out', files.csr, '-subj', `/CN=${device}`],
    ['x509', '-req', '-in', files.csr, '-CA', files.ca, '-CAkey', files.caKey, '-CAcreateserial', '-days', '2', '-out', files.cert],
  ];
  for (const args of steps) {
    const made = await run('openssl', args);
    if (made.code !== 0) throw new Error(`openssl ${args[0]} failed: ${made.stderr}`);
  }
  return { ca: files.ca, cert: files.cert, key: files.key };
}

/** Runs Debian's kdig (knot-dnsutils) once; its output and exit code. */
export function kdig(args: string[]): Promise<{ stdout: string; code: number }> {
  return run('kdig', [...args, '+retry=0', '+timeout=3'], 30_000);
}

/** The status (rcode) kdig printed, or null when it got no reply. */
export function kdigStatus(output: string): string | null {
  return /status: ([A-Z]+)/.exec(output)?.[1] ?? null;
}

/** Runs curl (HTTP/2 unless told otherwise), headers and body in `stdout`, the status from -w. */
export async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const result = await new Promise<{ stdout: Buffer; code: number }>((resolve) => {
    execFile('curl', ['-sk', '-i', '--max-time', '10', ...args], { encoding: 'buffer', timeout: 20_000 }, (error, stdout) =>
      resolve({ stdout, code: error === null ? 0 : -1 }),
    );
  });
  const raw = result.stdout;
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split < 0 ? raw.length : split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(head[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: split < 0 ? Buffer.alloc(0) : raw.subarray(split + 4) };
}

/** The SHA-256 fingerprint of the certificate a TLS server presents to a new connection. */
export function presentedFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no TLS handshake within 5 s')));
  });
}

/** The fingerprint of a PEM certificate file as Node reports a peer's. */
export async function fileFingerprint(cert: string): Promise<string> {
  const { X509Certificate } = await import('node:crypto');
  const { readFile } = await import('node:fs/promises');
  return new X509Certificate(await readFile(cert)).fingerprint256;
}
