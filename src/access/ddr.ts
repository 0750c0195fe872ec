import ipaddr from 'ipaddr.js';
import { parseHostPort } from '../config/address.js';
import type { Config } from '../config/schema.js';
import { RrClass } from '../wire/constants.js';
import { recordAtQuestion } from '../wire/question-records.js';

/** SVCB (RFC 9460) type and the SvcParamKeys DDR uses; dohpath is RFC 9461's. */
const TYPE_SVCB = 64;
const KEY = { alpn: 1, port: 3, ipv4hint: 4, ipv6hint: 6, dohpath: 7 } as const;
const TTL = 300;

function wireName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])), Buffer.from([0])]);
}

function param(key: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + value.length);
  out.writeUInt16BE(key, 0);
  out.writeUInt16BE(value.length, 2);
  value.copy(out, 4);
  return out;
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value, 0);
  return out;
}

/** One SVCB record answering the question (owner: a pointer to it), parameters in key order. */
function svcb(priority: number, target: Buffer, alpn: string, port: number, hosts: readonly { host: string; family: 4 | 6 }[], dohpath: string | null): Buffer {
  // An unspecified listen address gives no hint: the client keeps the address it asked.
  const hint = (family: 4 | 6, unspecified: string) =>
    hosts.filter((h) => h.family === family && h.host !== unspecified).map((h) => Buffer.from(ipaddr.parse(h.host).toByteArray()));
  const v4 = hint(4, '0.0.0.0');
  const v6 = hint(6, '::');
  const params = [
    param(KEY.alpn, Buffer.concat([Buffer.from([alpn.length]), Buffer.from(alpn, 'ascii')])),
    param(KEY.port, u16(port)),
    ...(v4.length > 0 ? [param(KEY.ipv4hint, Buffer.concat(v4))] : []),
    ...(v6.length > 0 ? [param(KEY.ipv6hint, Buffer.concat(v6))] : []),
    ...(dohpath === null ? [] : [param(KEY.dohpath, Buffer.from(dohpath, 'utf8'))]),
  ];
  return recordAtQuestion(TYPE_SVCB, RrClass.IN, TTL, Buffer.concat([u16(priority), target, ...params]));
}

/**
 * Discovery of Designated Resolvers (RFC 9462): the SVCB records answering
 * `_dns.resolver.arpa`, one per encrypted protocol configured (DoT: alpn dot; DoH: alpn h2
 * with dohpath `/dns-query{?dns}`), pointing at `encrypted.server_name`, with the port and
 * the listen addresses as hints; null when there is nothing to designate (no encrypted
 * listener, or no server name a client could verify the certificate against).
 */
export function ddrRecords(config: Config): { records: Buffer; count: number } | null {
  const encrypted = config.encrypted;
  if (encrypted.server_name === '') return null;
  const target = wireName(encrypted.server_name);
  const records: Buffer[] = [];
  const group = (listen: readonly string[], defaultPort: number) => {
    const addresses = listen.map((text) => parseHostPort(text, defaultPort));
    return { hosts: addresses, port: addresses[0]?.port ?? defaultPort };
  };
  if (encrypted.dot.length > 0) {
    const { hosts, port } = group(encrypted.dot, 853);
    records.push(svcb(1, target, 'dot', port, hosts, null));
  }
  if (encrypted.doh.length > 0) {
    const { hosts, port } = group(encrypted.doh, 443);
    records.push(svcb(2, target, 'h2', port, hosts, '/dns-query{?dns}'));
  }
  return records.length === 0 ? null : { records: Buffer.concat(records), count: records.length };
}
