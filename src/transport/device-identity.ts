import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { parseDeviceId } from '../pipeline/device-id.js';

/** What a name or path said about the device: none, an id, or something that is no valid id. */
export const INVALID_DEVICE = Symbol('invalid device id');
export type DeviceClaim = string | null | typeof INVALID_DEVICE;

/**
 * The device a TLS server name (SNI) names: the one label directly under `serverName`
 * (`phone-17.dns.example.nl` under `dns.example.nl`, as Android's Private DNS hostname
 * carries it). The bare server name, no SNI or another name say nothing; a deeper name or
 * a label that is no device id is INVALID_DEVICE.
 */
export function deviceFromServerName(sni: string | false | null | undefined, serverName: string): DeviceClaim {
  if (typeof sni !== 'string' || serverName === '') return null;
  const name = sni.toLowerCase();
  if (name.length <= serverName.length + 1 || !name.endsWith(serverName) || name.charCodeAt(name.length - serverName.length - 1) !== 0x2e) return null;
  const label = name.slice(0, name.length - serverName.length - 1);
  return label.includes('.') ? INVALID_DEVICE : (parseDeviceId(label) ?? INVALID_DEVICE);
}

/** The device a DoH path names (`/dns-query/<id>`): null for the bare path. */
export function deviceFromPathSegment(segment: string): DeviceClaim {
  return segment === '' ? null : (parseDeviceId(segment) ?? INVALID_DEVICE);
}

/**
 * The device a client certificate names (mTLS): its subject's common name, which the
 * organisation's device CA sets to the device id. The certificate must be signed directly
 * by one of `cas` and be within its validity; checked here, not through `authorized`,
 * which Node sets only for sockets its own tls.Server accepted (DoT wraps sockets itself).
 * An unsigned, expired or unreadable one, or a CN that is no device id, is INVALID_DEVICE;
 * no certificate says nothing.
 */
export function deviceFromCertificate(socket: tls.TLSSocket, cas: readonly X509Certificate[]): DeviceClaim {
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  if (raw === undefined) return null;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(raw);
  } catch {
    return INVALID_DEVICE;
  }
  const now = Date.now();
  const valid = Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
  if (!valid || !cas.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey))) return INVALID_DEVICE;
  const common = /^CN=(.*)$/m.exec(certificate.subject)?.[1];
  return common === undefined ? INVALID_DEVICE : (parseDeviceId(common) ?? INVALID_DEVICE);
}
