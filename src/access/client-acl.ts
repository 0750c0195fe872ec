import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Most distinct client addresses whose verdict is remembered before the memo starts over. */
const MEMO_LIMIT = 65_536;

/**
 * A set of client ranges: who may use the resolver (access.allow), who is never rate
 * limited. Parsing an address costs allocations, so verdicts are memoised per address
 * string (bounded: a spoofed-source flood cannot grow it).
 */
export class ClientAcl {
  private readonly v4: Range[] = [];
  private readonly v6: Range[] = [];
  private readonly memo = new Map<string, boolean>();

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const range = ipaddr.parseCIDR(cidr);
      (range[0].kind() === 'ipv4' ? this.v4 : this.v6).push(range);
    }
  }

  allows(address: string): boolean {
    const known = this.memo.get(address);
    if (known !== undefined) return known;
    const verdict = this.check(address);
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(address, verdict);
    return verdict;
  }

  private check(address: string): boolean {
    if (!ipaddr.isValid(address)) return false;
    // IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 client) is judged as IPv4.
    const ip = ipaddr.process(address);
    const ranges = ip.kind() === 'ipv4' ? this.v4 : this.v6;
    for (const range of ranges) if (ip.match(range)) return true;
    return false;
  }
}
