import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { strictCidr, strictIp } from '../config/address.js';
import { DEVICE_EXPECTED, parseDeviceId } from '../pipeline/device-id.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Distinct addresses whose device is remembered before the memo starts over (a flood cannot grow it). */
const MEMO_LIMIT = 65_536;

/**
 * A static address → device map (`identity.static_map`), for sites whose VPN sends no
 * accounting: one `ADDRESS-OR-CIDR DEVICE-ID` per line, `#` comments, the longest prefix
 * winning. Parsed strictly: every bad line is reported as `FILE:LINE: reason`, and a file
 * with any bad line is refused whole.
 */
export class DeviceMap {
  private readonly ranges: { range: Range; device: string }[] = [];
  private readonly memo = new Map<string, string | null>();

  private constructor() {}

  static read(file: string): DeviceMap {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${file}: cannot read the device map: ${(error as Error).message}`);
    }
    return DeviceMap.parse(text, file);
  }

  static parse(text: string, file: string): DeviceMap {
    const map = new DeviceMap();
    const problems: string[] = [];
    text.split('\n').forEach((raw, index) => {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') return;
      const fields = line.split(/\s+/);
      const where = `${file}:${index + 1}`;
      if (fields.length !== 2) return void problems.push(`${where}: expected "ADDRESS-OR-CIDR DEVICE-ID", got ${fields.length} fields`);
      const [address, id] = fields as [string, string];
      const device = parseDeviceId(id);
      if (device === null) return void problems.push(`${where}: "${id.slice(0, 64)}" is not ${DEVICE_EXPECTED}`);
      try {
        const cidr = address.includes('/') ? address : `${address}/${strictIp(address) === 4 ? 32 : 128}`;
        strictCidr(cidr);
        map.ranges.push({ range: ipaddr.parseCIDR(cidr), device });
      } catch (error) {
        problems.push(`${where}: ${(error as Error).message}`);
      }
    });
    if (problems.length > 0) throw new Error(problems.join('\n'));
    // Longest prefix first, so the first match is the most specific.
    map.ranges.sort((a, b) => b.range[1] - a.range[1]);
    return map;
  }

  get size(): number {
    return this.ranges.length;
  }

  /** The device at `address` (as sockets report it), or null. */
  deviceOf(address: string): string | null {
    const known = this.memo.get(address);
    if (known !== undefined) return known;
    let found: string | null = null;
    if (ipaddr.isValid(address)) {
      const ip = ipaddr.process(address);
      for (const { range, device } of this.ranges) {
        if (range[0].kind() === ip.kind() && ip.match(range)) {
          found = device;
          break;
        }
      }
    }
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(address, found);
    return found;
  }
}
