import { describe, expect, it } from 'vitest';
import { DevicePatterns, parseDeviceId } from '../../src/pipeline/device-id.js';

describe('parseDeviceId', () => {
  it('takes one hostname label, lower-cased', () => {
    expect(parseDeviceId('Phone-17')).toBe('phone-17');
    expect(parseDeviceId('a')).toBe('a');
    expect(parseDeviceId('x'.repeat(63))).toBe('x'.repeat(63));
    expect(parseDeviceId('0ad9f2')).toBe('0ad9f2');
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'x'.repeat(64), '-phone', 'phone-', 'pho_ne', 'phone.7', 'phöne', 'phone 7', 'p:0123', '10.0.0.1', '::1']) {
      expect(parseDeviceId(bad), bad).toBeNull();
    }
  });
});

describe('DevicePatterns', () => {
  it('matches listed ids and patterns with one star', () => {
    const patterns = new DevicePatterns(['Laptop-9', 'phone-*', '*-insp', 'a*z']);
    for (const device of ['laptop-9', 'phone-1', 'phone-abc', 'x-insp', 'az', 'abcz']) expect(patterns.matches(device), device).toBe(true);
    for (const device of ['laptop-1', 'phone', 'insp', 'x-inspx', 'za']) expect(patterns.matches(device), device).toBe(false);
    expect(new DevicePatterns(['*']).matches('anything')).toBe(true);
    expect(new DevicePatterns([]).empty).toBe(true);
  });

  it('refuses entries that are neither, naming them', () => {
    for (const bad of ['phone_*', '**', 'a*b*c', '-*', '*-', 'phone.*', '']) {
      expect(() => new DevicePatterns([bad]), bad).toThrow(/is not a device id/);
    }
  });
});
