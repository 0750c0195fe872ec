import { describe, expect, it } from 'vitest';
import { deviceFromPathSegment, deviceFromServerName, INVALID_DEVICE } from '../../src/transport/device-identity.js';

describe('device identity from encrypted DNS', () => {
  it('takes the one label directly under the server name from SNI', () => {
    expect(deviceFromServerName('Phone-7.DNS.example.nl', 'dns.example.nl')).toBe('phone-7');
    expect(deviceFromServerName('dns.example.nl', 'dns.example.nl')).toBeNull();
    expect(deviceFromServerName('other.example.nl', 'dns.example.nl')).toBeNull();
    expect(deviceFromServerName('xdns.example.nl', 'dns.example.nl')).toBeNull();
    expect(deviceFromServerName(false, 'dns.example.nl')).toBeNull();
    expect(deviceFromServerName('phone-7.dns.example.nl', '')).toBeNull();
  });

  it('calls a deeper name or a bad label invalid', () => {
    expect(deviceFromServerName('a.b.dns.example.nl', 'dns.example.nl')).toBe(INVALID_DEVICE);
    expect(deviceFromServerName('bad_label.dns.example.nl', 'dns.example.nl')).toBe(INVALID_DEVICE);
  });

  it('takes the DoH path segment', () => {
    expect(deviceFromPathSegment('')).toBeNull();
    expect(deviceFromPathSegment('iPad-12')).toBe('ipad-12');
    expect(deviceFromPathSegment('ipad%2012')).toBe(INVALID_DEVICE);
    expect(deviceFromPathSegment('a/b')).toBe(INVALID_DEVICE);
  });
});
