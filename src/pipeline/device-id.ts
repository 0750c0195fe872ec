/**
 * Device identities: what an encrypted-DNS client (the SNI label, the DoH path, a client
 * certificate) or a VPN session says about which device is asking. One hostname label,
 * lower-cased, so it can sit in a certificate's wildcard (`<id>.dns.example.nl`) and in
 * logs without escaping.
 */

/** What a valid device id looks like, for error messages. */
export const DEVICE_EXPECTED = 'a device id: 1-63 letters, digits or inner hyphens';

const MAX_LABEL = 63;

function isLabelChar(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
}

/** The id in canonical (lower-case) form, or null when `text` is not one hostname label. */
export function parseDeviceId(text: string): string | null {
  const length = text.length;
  if (length === 0 || length > MAX_LABEL) return null;
  const lower = text.toLowerCase();
  for (let i = 0; i < length; i++) {
    const code = lower.charCodeAt(i);
    if (isLabelChar(code)) continue;
    if (code !== 0x2d || i === 0 || i === length - 1) return null;
  }
  return lower;
}

/**
 * A server name devices are told to use (`encrypted.server_name`, a profile's server): two
 * or more labels that could each be a device id, as SNI carries them, no trailing dot.
 */
export function isServerName(value: string): boolean {
  return value.length <= 253 && value.includes('.') && value.split('.').every((label) => parseDeviceId(label) !== null);
}

/**
 * A list of device ids and patterns, each a label or a label with one `*` standing for any
 * run of label characters (`phone-*`, `*-inspectie`, `*`). Parsed strictly: anything else
 * is an error naming the entry.
 */
export class DevicePatterns {
  private readonly exact = new Set<string>();
  private readonly wildcards: { prefix: string; suffix: string }[] = [];

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const star = entry.indexOf('*');
      if (star < 0) {
        const id = parseDeviceId(entry);
        if (id === null) throw new Error(`"${entry}" is not ${DEVICE_EXPECTED}, nor a pattern with one "*"`);
        this.exact.add(id);
        continue;
      }
      const prefix = entry.slice(0, star).toLowerCase();
      const suffix = entry.slice(star + 1).toLowerCase();
      // The parts must be what a label may hold around the star: the whole with any filling is then a label.
      const sample = `${prefix}a${suffix}`;
      if (suffix.includes('*') || parseDeviceId(sample) === null || sample.length > MAX_LABEL) {
        throw new Error(`"${entry}" is not ${DEVICE_EXPECTED}, nor a pattern with one "*"`);
      }
      this.wildcards.push({ prefix, suffix });
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.wildcards.length === 0;
  }

  /** Whether `device` (canonical, from parseDeviceId) is listed or matches a pattern. */
  matches(device: string): boolean {
    if (this.exact.has(device)) return true;
    for (const { prefix, suffix } of this.wildcards) {
      if (device.length > prefix.length + suffix.length - 1 && device.startsWith(prefix) && device.endsWith(suffix)) return true;
    }
    return false;
  }
}
