import ipaddr from 'ipaddr.js';
import type { DevicePatterns } from '../pipeline/device-id.js';

const MEMO_LIMIT = 65_536;

interface Prefix<Group> {
  range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  group: Group;
}

/**
 * Client → group: by device id when the transport identified the device (the first group
 * whose ids or patterns match, in configuration order), else by address with CIDRs, the
 * longest prefix winning (a unit's pool inside a ministry's pool belongs to the unit).
 * Address verdicts are memoised per address, bounded.
 */
export class ClientGroups<Group> {
  private readonly prefixes: Prefix<Group>[] = [];
  private readonly devices: { patterns: DevicePatterns; group: Group }[] = [];
  private readonly memo = new Map<string, Group | null>();

  add(cidr: string, group: Group): void {
    this.prefixes.push({ range: ipaddr.parseCIDR(cidr), group });
    // Longest prefix first, so the first match is the most specific.
    this.prefixes.sort((a, b) => b.range[1] - a.range[1]);
  }

  addDevices(patterns: DevicePatterns, group: Group): void {
    this.devices.push({ patterns, group });
  }

  groupOf(address: string, device: string | null = null): Group | null {
    if (device !== null) {
      for (const entry of this.devices) if (entry.patterns.matches(device)) return entry.group;
    }
    const known = this.memo.get(address);
    if (known !== undefined) return known;
    let found: Group | null = null;
    if (ipaddr.isValid(address)) {
      const ip = ipaddr.process(address);
      for (const prefix of this.prefixes) {
        if (prefix.range[0].kind() === ip.kind() && ip.match(prefix.range)) {
          found = prefix.group;
          break;
        }
      }
    }
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(address, found);
    return found;
  }
}
