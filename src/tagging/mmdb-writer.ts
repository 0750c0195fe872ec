/**
 * A writer for the MaxMind DB format (version 2.0, https://maxmind.github.io/MaxMind-DB/),
 * enough to turn the ASN CSV the project installs into a database the `maxmind` reader
 * opens, and to build exact-range fixtures in tests. IPv6 tree, IPv4 under ::/96 as MaxMind
 * lays it out, values: maps, strings, unsigned integers, booleans, arrays. As MaxMind's own
 * writers do, records take 24 bits where every node and data offset fits (else 32), and each
 * map key is written once and pointed to: the installed ASN database shrinks from 17.8 to
 * about 11 MB, which every node holds in memory.
 */

export type MmdbValue = string | number | boolean | SizedUnsigned | MmdbValue[] | { [key: string]: MmdbValue };

/** An unsigned integer of an explicit MMDB type (the metadata wants uint16 and uint64). */
class SizedUnsigned {
  constructor(
    readonly type: 5 | 6 | 9,
    readonly value: number,
  ) {}
}
const uint16 = (value: number): SizedUnsigned => new SizedUnsigned(5, value);
const uint64 = (value: number): SizedUnsigned => new SizedUnsigned(9, value);

const EMPTY = 0;
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const DATA_SEPARATOR = 16;

export class MmdbWriter {
  /** Trie children: 0 = empty, > 0 = node index, < 0 = -(data id + 1). Node 0 is the root. */
  private left: Int32Array = new Int32Array(1 << 16);
  private right: Int32Array = new Int32Array(1 << 16);
  private nodes = 1;
  private readonly dataIds = new Map<string, number>();
  private readonly data: MmdbValue[] = [];

  constructor(
    private readonly databaseType: string,
    private readonly description: string,
  ) {}

  /** Maps every address from `first` to `last` (inclusive, same family) to `value`. */
  insertRange(first: string, last: string, value: MmdbValue): void {
    const v4 = !first.includes(':');
    let start = toBigInt(first);
    const end = toBigInt(last);
    const bits = v4 ? 32 : 128;
    if (end < start) throw new Error(`range ${first}-${last} ends before it starts`);
    const id = this.dataId(value);
    while (start <= end) {
      // The largest aligned block starting at `start` that does not run past `end`.
      let size = 0;
      while (size < bits && (start & ((1n << BigInt(size + 1)) - 1n)) === 0n && start + (1n << BigInt(size + 1)) - 1n <= end) size++;
      this.insertPrefix(start, bits - size, v4, id);
      start += 1n << BigInt(size);
    }
  }

  /** Maps a CIDR network ("192.0.2.0/24", "2001:db8::/32") to `value`. */
  insertNetwork(cidr: string, value: MmdbValue): void {
    const [address, length] = cidr.split('/');
    const v4 = !address!.includes(':');
    this.insertPrefix(toBigInt(address!), Number(length), v4, this.dataId(value));
  }

  toBuffer(): Buffer {
    // The keys first, at the start of the data section, so every map can point to them.
    const keys = new Map<string, number>();
    const encoded: Buffer[] = [];
    let dataLength = 0;
    const place = (bytes: Buffer): number => {
      encoded.push(bytes);
      dataLength += bytes.length;
      return dataLength - bytes.length;
    };
    const gatherKeys = (value: MmdbValue): void => {
      if (Array.isArray(value)) value.forEach(gatherKeys);
      else if (typeof value === 'object' && !(value instanceof SizedUnsigned)) {
        for (const [key, child] of Object.entries(value)) {
          if (!keys.has(key)) keys.set(key, place(encode(key)));
          gatherKeys(child);
        }
      }
    };
    this.data.forEach(gatherKeys);
    const offsets = this.data.map((value) => place(encode(value, keys)));
    const nodeCount = this.nodes;
    const largest = nodeCount + DATA_SEPARATOR + dataLength;
    if (largest > 0xffffffff) throw new Error('database too large for 32-bit records');
    const recordBytes = largest < 2 ** 24 ? 3 : 4;
    const tree = Buffer.alloc(nodeCount * recordBytes * 2);
    const record = (child: number): number => {
      if (child === EMPTY) return nodeCount;
      if (child > 0) return child;
      return nodeCount + DATA_SEPARATOR + offsets[-child - 1]!;
    };
    for (let node = 0; node < nodeCount; node++) {
      tree.writeUIntBE(record(this.left[node]!), node * recordBytes * 2, recordBytes);
      tree.writeUIntBE(record(this.right[node]!), node * recordBytes * 2 + recordBytes, recordBytes);
    }
    const metadata = encode({
      node_count: nodeCount,
      record_size: uint16(recordBytes * 8),
      ip_version: uint16(6),
      database_type: this.databaseType,
      languages: ['en'],
      binary_format_major_version: uint16(2),
      binary_format_minor_version: uint16(0),
      build_epoch: uint64(Math.floor(Date.now() / 1000)),
      description: { en: this.description },
    });
    return Buffer.concat([tree, Buffer.alloc(DATA_SEPARATOR), ...encoded, METADATA_MARKER, metadata]);
  }

  private dataId(value: MmdbValue): number {
    const key = JSON.stringify(value);
    let id = this.dataIds.get(key);
    if (id === undefined) {
      id = this.data.length;
      this.data.push(value);
      this.dataIds.set(key, id);
    }
    return id;
  }

  private insertPrefix(address: bigint, length: number, v4: boolean, id: number): void {
    // IPv4 lives under ::/96: 96 zero bits first, then the 32 bits of the address.
    const total = v4 ? length + 96 : length;
    let node = 0;
    for (let depth = 0; depth < total; depth++) {
      const bitIndex = v4 ? (depth < 96 ? -1 : 31 - (depth - 96)) : 127 - depth;
      const bit = bitIndex < 0 ? 0 : Number((address >> BigInt(bitIndex)) & 1n);
      const children = bit === 0 ? this.left : this.right;
      if (depth === total - 1) {
        children[node] = -(id + 1);
        return;
      }
      let child = children[node]!;
      if (child <= 0) {
        // Empty, or a shorter network's data that this longer one splits: push it down.
        const next = this.allocate(child, child);
        (bit === 0 ? this.left : this.right)[node] = next;
        child = next;
      }
      node = child;
    }
  }

  private allocate(left: number, right: number): number {
    if (this.nodes === this.left.length) {
      const grow = (old: Int32Array): Int32Array => {
        const next = new Int32Array(old.length * 2);
        next.set(old);
        return next;
      };
      this.left = grow(this.left);
      this.right = grow(this.right);
    }
    const node = this.nodes++;
    this.left[node] = left;
    this.right[node] = right;
    return node;
  }
}

function toBigInt(address: string): bigint {
  if (!address.includes(':')) return address.split('.').reduce((sum, octet) => (sum << 8n) + BigInt(Number(octet)), 0n);
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const high = parse(head);
  const low = parse(tail);
  const groups = tail === undefined ? high : [...high, ...new Array<number>(8 - high.length - low.length).fill(0), ...low];
  if (groups.length !== 8 || groups.some((group) => !(group >= 0 && group <= 0xffff))) throw new Error(`not an IP address: ${address}`);
  return groups.reduce((sum, group) => (sum << 16n) + BigInt(group), 0n);
}

const NO_KEYS: ReadonlyMap<string, number> = new Map();

/** Data-section encoding of one value (§ "Output Data Section"); map keys in `keys` as pointers to their offset. */
function encode(value: MmdbValue, keys: ReadonlyMap<string, number> = NO_KEYS): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`only unsigned 32-bit integers are supported, not ${value}`);
    return unsigned(6, value);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (value instanceof SizedUnsigned) return unsigned(value.type, value.value);
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map((item) => encode(item, keys))]);
  const entries = Object.entries(value);
  const key = (name: string): Buffer => {
    const offset = keys.get(name);
    return offset === undefined ? encode(name) : pointer(offset);
  };
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([name, child]) => [key(name), encode(child, keys)])]);
}

/** A pointer of the smallest size, 11 bits (the keys sit at the start of the data section). */
function pointer(offset: number): Buffer {
  if (offset >= 2048) throw new Error('map keys take more than 2 KiB of the data section');
  return Buffer.from([(1 << 5) | (offset >> 8), offset & 0xff]);
}

function unsigned(type: number, value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

function control(type: number, size: number): Buffer {
  let sizeBits: number;
  let extra: number[];
  if (size < 29) [sizeBits, extra] = [size, []];
  else if (size < 285) [sizeBits, extra] = [29, [size - 29]];
  else if (size < 65_821) [sizeBits, extra] = [30, [(size - 285) >> 8, (size - 285) & 0xff]];
  else [sizeBits, extra] = [31, [(size - 65_821) >> 16, ((size - 65_821) >> 8) & 0xff, (size - 65_821) & 0xff]];
  const head = type <= 7 ? [(type << 5) | sizeBits] : [sizeBits, type - 7];
  return Buffer.from([...head, ...extra]);
}
