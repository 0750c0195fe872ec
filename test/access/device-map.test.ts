import { describe, expect, it } from 'vitest';
import { DeviceMap } from '../../src/access/device-map.js';

describe('the static address → device map', () => {
  it('names the device behind an address, the longest prefix winning, IPv4 and IPv6', () => {
    const map = DeviceMap.parse(
      ['# VPN pool of the inspection', '10.64.0.0/16   pool-insp', '10.64.3.7 Phone-7   # fixed address', '2001:db8::/32 v6-pool', ''].join('\n'),
      'devices.txt',
    );
    expect(map.size).toBe(3);
    expect(map.deviceOf('10.64.3.7')).toBe('phone-7');
    expect(map.deviceOf('10.64.9.9')).toBe('pool-insp');
    expect(map.deviceOf('::ffff:10.64.3.7')).toBe('phone-7');
    expect(map.deviceOf('2001:db8::5')).toBe('v6-pool');
    expect(map.deviceOf('10.65.0.1')).toBeNull();
    expect(map.deviceOf('not an address')).toBeNull();
  });

  it('refuses the whole file, naming every bad line', () => {
    const text = ['10.0.0.1 ok-1', '010.0.0.2 octal', '10.0.0.3/33 long', '10.0.0.4 bad_id', '10.0.0.5', '10.0.0.6 a b'].join('\n');
    expect(() => DeviceMap.parse(text, 'devices.txt')).toThrow(
      /devices\.txt:2: .*\ndevices\.txt:3: .*\ndevices\.txt:4: "bad_id" is not a device id.*\ndevices\.txt:5: expected .*got 1 fields\ndevices\.txt:6: expected .*got 3 fields/,
    );
  });

  it('says which file it cannot read', () => {
    expect(() => DeviceMap.read('/nonexistent/devices.txt')).toThrow(/\/nonexistent\/devices\.txt: cannot read the device map/);
  });
});
