import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { AccountingRejected, Attribute, accountingResponse, readAccountingRequest } from '../../src/radius/accounting-packet.js';

// An encoder written by others (the npm `radius` package), so these tests do not check our
// reader against our own idea of the format.
const radius = createRequire(import.meta.url)('radius') as {
  encode(args: { code: string; identifier: number; attributes: [string, unknown][]; secret: string }): Buffer;
  verify_response(args: { response: Buffer; request: Buffer; secret: string }): boolean;
};

const SECRET = 'a-shared-secret-of-some-length';
const secret = Buffer.from(SECRET);

function request(attributes: [string, unknown][], identifier = 7): Buffer {
  return radius.encode({ code: 'Accounting-Request', identifier, attributes, secret: SECRET });
}

const START: [string, unknown][] = [
  ['Acct-Status-Type', 'Start'],
  ['User-Name', 'Alice@Ministerie.NL'],
  ['Framed-IP-Address', '10.64.3.7'],
  ['Acct-Session-Id', 'session-1'],
  ['Calling-Station-Id', '00-11-22-33-44-55'],
  ['Acct-Input-Octets', 1234],
];

function rejection(datagram: Buffer, key = secret): string {
  try {
    readAccountingRequest(datagram, key, Attribute.USER_NAME);
  } catch (error) {
    if (error instanceof AccountingRejected) return error.reason;
    throw error;
  }
  return 'accepted';
}

/** The packet with its Request Authenticator computed again, as a sender knowing the secret would. */
function resigned(packet: Buffer): Buffer {
  const copy = Buffer.from(packet);
  copy.fill(0, 4, 20);
  createHash('md5').update(copy.subarray(0, copy.readUInt16BE(2))).update(secret).digest().copy(copy, 4);
  return copy;
}

describe('an Accounting-Request', () => {
  it('reads status, address, identity and session of a real encoder\'s packet', () => {
    expect(readAccountingRequest(request(START), secret, Attribute.USER_NAME)).toMatchObject({
      identifier: 7,
      status: 1,
      address: '10.64.3.7',
      identity: 'Alice@Ministerie.NL',
      sessionId: 'session-1',
    });
    expect(readAccountingRequest(request(START), secret, Attribute.CALLING_STATION_ID).identity).toBe('00-11-22-33-44-55');
  });

  it('reads an IPv6 address (RFC 6911) in its canonical text, and skips attributes it does not read', () => {
    const ipv6 = Buffer.from([168, 18, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
    const vendorSpecific = Buffer.from([26, 12, 0, 0, 0x01, 0x37, 1, 6, 0x61, 0x62, 0x63, 0x64]);
    const packet = Buffer.concat([request([['Acct-Status-Type', 'Interim-Update'], ['User-Name', 'phone-6']]), ipv6, vendorSpecific]);
    packet.writeUInt16BE(packet.length, 2);
    expect(readAccountingRequest(resigned(packet), secret, Attribute.USER_NAME)).toMatchObject({ status: 3, address: 'fd00::7', identity: 'phone-6' });
  });

  it('is refused with a wrong secret, and when one authenticator byte is changed', () => {
    expect(rejection(request(START), Buffer.from('another-secret-of-some-length'))).toBe('bad_authenticator');
    // The npm radius package compares authenticators as UTF-8 text, so two bytes that both
    // decode to U+FFFD compare equal; the bytes must be compared.
    const packet = request(START);
    for (let at = 4; at < 20; at++) {
      const forged = Buffer.from(packet);
      forged[at] = forged[at]! ^ 0x01;
      expect(rejection(forged), `byte ${at}`).toBe('bad_authenticator');
    }
  });

  it('is refused when its length field or an attribute does not fit, or it has no status', () => {
    const packet = request(START);
    expect(rejection(packet.subarray(0, 19))).toBe('malformed');
    const longer = Buffer.from(packet);
    longer.writeUInt16BE(packet.length + 1, 2);
    expect(rejection(longer)).toBe('malformed');
    const short = Buffer.from(packet);
    short.writeUInt16BE(19, 2);
    expect(rejection(short)).toBe('malformed');
    const huge = Buffer.concat([packet, Buffer.alloc(4096)]);
    huge.writeUInt16BE(4097, 2);
    expect(rejection(huge)).toBe('malformed');
    for (const tail of [[1], [1, 0], [1, 1], [1, 40, 0x61], [0, 3, 0x61], [40, 5, 0, 0, 0], [8, 5, 10, 0, 0]]) {
      const bad = Buffer.concat([packet, Buffer.from(tail)]);
      bad.writeUInt16BE(bad.length, 2);
      expect(rejection(resigned(bad)), `tail ${tail.join(',')}`).toBe('malformed');
    }
    expect(rejection(request([['User-Name', 'phone-1'], ['Framed-IP-Address', '10.0.0.1']]))).toBe('malformed');
  });

  it('ignores octets beyond its length field, as RFC 2865 §3 says', () => {
    const padded = Buffer.concat([request(START), Buffer.from([1, 2, 3])]);
    expect(rejection(padded)).toBe('accepted');
  });

  it('is not acted on when it is another kind of RADIUS packet', () => {
    const access = radius.encode({ code: 'Access-Request', identifier: 1, attributes: [['User-Name', 'x']], secret: SECRET });
    expect(rejection(access)).toBe('not_accounting');
  });

  it('gets an Accounting-Response the real decoder accepts as the answer to it', () => {
    const packet = request(START, 42);
    const response = accountingResponse(readAccountingRequest(packet, secret, Attribute.USER_NAME), secret);
    expect([response[0], response[1], response.length]).toEqual([5, 42, 20]);
    expect(radius.verify_response({ response, request: packet, secret: SECRET })).toBe(true);
  });

  it('never throws anything but its own refusal, whatever the bytes', () => {
    const valid = request(START);
    let seed = 1;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const reasons = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const mutated = Buffer.from(valid.subarray(0, Math.floor(random() * (valid.length + 8))));
      for (let flips = 1 + Math.floor(random() * 4); flips > 0 && mutated.length > 0; flips--) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
      reasons.add(rejection(random() < 0.5 ? mutated : resigned(mutated.length >= 20 ? mutated : valid)));
    }
    expect([...reasons].sort()).toEqual(expect.arrayContaining(['bad_authenticator', 'malformed']));
  });
});
