import ipaddr from 'ipaddr.js';

const MEMO_LIMIT = 65_536;

interface Prefix<Group> {
  range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  group: Group;
}

/**
 * Client address → group by CIDR, the longest prefix winning (a unit's pool inside a
 * ministry's pool belongs to the unit). Verdicts are memoised per address, bounded.
 */
export class ClientGroups<Group> {
  private readonly prefixes: Prefix<Group>[] = [];
  private readonly memo = new Map<string, Group | null>();

  add(cidr: string, group: Group): void {
    this.prefixes.push({ range: ipaddr.parseCIDR(cidr), group });
    // Longest prefix first, so the first match is the most specific.
    this.prefixes.sort((a, b) => b.range[1] - a.range[1]);
  }

  groupOf(address: string): Group | null {
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
