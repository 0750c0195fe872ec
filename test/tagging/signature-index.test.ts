import { describe, expect, it } from 'vitest';
import { SignatureIndex, normaliseName, suffixWords, toWire } from '../../src/tagging/signature-index.js';
import { WireRequest, readRequest } from '../../src/wire/request.js';
import { encodeQuery, TYPE } from '../support/packets.js';

function index(): SignatureIndex<string> {
  const signatures = new SignatureIndex<string>();
  signatures.add('tiktok', 'tiktokv.com', 'tiktokv.com');
  signatures.add('qq', 'qq.com', 'qq.com');
  signatures.add('wechat', 'weixin.qq.com', 'weixin.qq.com');
  signatures.add('tiktok', '^[a-z0-9-]*tiktok[a-z0-9-]*\\.akamaized\\.net$', 'akamaized.net', /^[a-z0-9-]*tiktok[a-z0-9-]*\.akamaized\.net$/);
  return signatures;
}

describe('SignatureIndex', () => {
  const signatures = index();
  const appOf = (name: string) => signatures.matchName(name)?.app ?? null;

  it('matches a domain and every name below it, case-insensitively, with or without a trailing dot', () => {
    expect(appOf('tiktokv.com')).toBe('tiktok');
    expect(appOf('api16-normal-c-useast1a.tiktokv.com')).toBe('tiktok');
    expect(appOf('API16-Normal.TikTokV.COM.')).toBe('tiktok');
  });

  it('never matches look-alikes across label boundaries', () => {
    expect(appOf('mytiktokv.com')).toBeNull();
    expect(appOf('tiktokv.com.example.nl')).toBeNull();
    expect(appOf('tiktokv.co')).toBeNull();
    expect(appOf('com')).toBeNull();
    expect(appOf('')).toBeNull();
  });

  it('lets the most specific rule win', () => {
    expect(appOf('mail.qq.com')).toBe('qq');
    expect(appOf('weixin.qq.com')).toBe('wechat');
    expect(appOf('long.weixin.qq.com')).toBe('wechat');
  });

  it('applies an anchored pattern only under its suffix', () => {
    expect(appOf('p16-tiktok-va.akamaized.net')).toBe('tiktok');
    expect(appOf('video.akamaized.net')).toBeNull();
    expect(appOf('tiktok.example.net')).toBeNull();
    expect(appOf('a.b-tiktok.akamaized.net')).toBeNull();
  });

  it('matches the wire question of a real request without decoding it', () => {
    const req = new WireRequest();
    readRequest(encodeQuery('Log.TikTokV.com', TYPE.A), req);
    const match = signatures.match(req.question, 0, () => req.qname());
    expect(match?.rule).toBe('tiktokv.com');
    expect(signatures.matchedAt).toBe(4); // "log" is 1 + 3 bytes: the suffix starts after it
  });

  it('rejects invalid rule domains', () => {
    expect(() => new SignatureIndex<string>().add('x', 'bad', 'a..b')).toThrow(/not a valid domain/);
  });

  it('matches a name inside a larger buffer and reports where the suffix starts', () => {
    const name = wire('edge.api.tiktokv.com');
    const packet = Buffer.concat([Buffer.from([0xff, 0x03, 0x00, 0x07]), name, Buffer.from([0x00, 0x01])]);
    expect(signatures.match(packet, 4, () => 'edge.api.tiktokv.com')?.rule).toBe('tiktokv.com');
    expect(signatures.matchedAt).toBe(4 + 9); // "edge" and "api" take 5 and 4 bytes
  });

  it('returns null for a name with no terminating root label', () => {
    expect(signatures.match(wire('tiktokv.com').subarray(0, 12), 0, () => '')).toBeNull();
    expect(signatures.matchedAt).toBe(-1);
  });

  it('tells suffixes apart in every byte, whatever their length modulo the word size', () => {
    const short = new SignatureIndex<string>();
    for (const domain of ['a', 'ab', 'abc', 'abcd', 'x.a', 'xy.ab', 'b.abcd', 'bb.abcd']) short.add(domain, domain, domain);
    const appOf = (name: string) => short.matchName(name)?.app ?? null;
    expect(appOf('q.a')).toBe('a');
    expect(appOf('x.a')).toBe('x.a');
    expect(appOf('y.a')).toBe('a');
    expect(appOf('xy.ab')).toBe('xy.ab');
    expect(appOf('xz.ab')).toBe('ab');
    expect(appOf('zy.ab')).toBe('ab');
    expect(appOf('cb.abcd')).toBe('abcd');
    expect(appOf('bc.abcd')).toBe('abcd');
    expect(appOf('abce')).toBeNull();
    expect(appOf('bbcd')).toBeNull();
    expect(appOf('aa')).toBeNull();
    expect(appOf('b')).toBeNull();
  });

  it('lets the newest rule for a suffix go first and falls back to older ones whose pattern matches', () => {
    const shared = new SignatureIndex<string>();
    shared.add('tiktok', '^.*tiktok.*\\.akamaized\\.net$', 'akamaized.net', /^.*tiktok.*\.akamaized\.net$/);
    shared.add('capcut', '^.*capcut.*\\.akamaized\\.net$', 'akamaized.net', /^.*capcut.*\.akamaized\.net$/);
    expect(shared.matchName('tiktok-capcut.akamaized.net')?.app).toBe('capcut');
    expect(shared.matchName('p16-tiktok.akamaized.net')?.app).toBe('tiktok');
    expect(shared.matchName('video.akamaized.net')).toBeNull();
  });

  it('asks for the name as text at most once per lookup, and only when a pattern rule needs it', () => {
    let calls = 0;
    const text = (name: string) => () => {
      calls++;
      return name;
    };
    signatures.match(wire('api.tiktokv.com'), 0, text('api.tiktokv.com'));
    expect(calls).toBe(0);
    signatures.match(wire('p16-tiktok-va.akamaized.net'), 0, text('p16-tiktok-va.akamaized.net'));
    expect(calls).toBe(1);
  });
});

describe('SignatureIndex with colliding suffix hashes', () => {
  // Two different rule domains of the same length whose suffix hashes are equal: the table
  // must keep both and only the bytes may decide.
  const [first, second] = collidingDomains();

  it('finds a colliding pair to test with', () => {
    expect(first).not.toBe(second);
    expect(first.length).toBe(second.length);
    expect(hashOf(first)).toBe(hashOf(second));
  });

  it('finds both rules, under either insertion order', () => {
    for (const order of [[first, second], [second, first]]) {
      const signatures = new SignatureIndex<string>();
      for (const domain of order) signatures.add(domain, domain, domain);
      expect(signatures.matchName(first)?.app).toBe(first);
      expect(signatures.matchName(second)?.app).toBe(second);
      expect(signatures.matchName(`api.${first}`)?.app).toBe(first);
      expect(signatures.matchName(`api.${second}`)?.app).toBe(second);
    }
  });

  it('never matches a name whose hash collides with a rule but whose bytes differ', () => {
    const signatures = new SignatureIndex<string>();
    signatures.add(first, first, first);
    expect(signatures.matchName(second)).toBeNull();
    expect(signatures.matchName(`api.${second}`)).toBeNull();
  });
});

describe('SignatureIndex against a plain reference', () => {
  // Few, short labels, so that rules nest, share suffixes and differ by single bytes.
  const LABELS = ['a', 'b', 'ab', 'ba', 'abc', 'abd', 'bcd', 'abcd', 'abce', 'abcde', 'bcdea', 'abcdefg', 'xn--p1ai'];

  it('agrees with a rule-by-rule scan on rule, position and pattern handling', () => {
    const random = seeded(20261124);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const domainOf = (labels: number) => Array.from({ length: labels }, () => pick(LABELS)).join('.');

    const rules: Array<{ app: string; domain: string; pattern: RegExp | null }> = [];
    const signatures = new SignatureIndex<string>();
    for (let i = 0; i < 400; i++) {
      // Rules end in a few of the labels only, and one is a whole top-level label, so that names miss too.
      const domain = i === 0 ? 'abcde' : `${domainOf(1 + Math.floor(random() * 3))}.${pick(['a', 'abcd', 'xn--p1ai'])}`;
      const pattern = random() < 0.2 ? new RegExp(`^${pick(LABELS)}\\..*${domain.replaceAll('.', '\\.')}$`) : null;
      const app = `app${i}`;
      rules.push({ app, domain, pattern });
      signatures.add(app, pattern?.source ?? domain, domain, pattern);
    }

    let hits = 0;
    for (let i = 0; i < 5000; i++) {
      const name = random() < 0.5 ? `${domainOf(Math.floor(random() * 3))}.${pick(rules).domain}`.replace(/^\./, '') : domainOf(1 + Math.floor(random() * 6));
      const expected = reference(rules, name);
      const prefix = Buffer.alloc(Math.floor(random() * 8), 0x41);
      const packet = Buffer.concat([prefix, wire(name), Buffer.alloc(3, 0x7f)]);
      const found = signatures.match(packet, prefix.length, () => name);
      expect({ name, app: found?.app ?? null }).toEqual({ name, app: expected?.app ?? null });
      expect(signatures.matchedAt).toBe(expected === null ? -1 : prefix.length + name.length - expected.domain.length);
      expect(signatures.matchName(name.toUpperCase())?.app ?? null).toBe(expected?.app ?? null);
      if (expected !== null) hits++;
    }
    expect(hits).toBeGreaterThan(1000);
    expect(hits).toBeLessThan(4500);
  });
});

/** Wire form with the root label, as the resolver holds names. */
function wire(name: string): Buffer {
  return Buffer.concat([toWire(name), Buffer.from([0])]);
}

function hashOf(domain: string): number {
  const suffix = toWire(domain);
  return suffixWords(Buffer.concat([suffix, Buffer.from([0])]), 0, suffix.length, new Int32Array(64));
}

/** The first two same-length domains c000000.example, c000001.example … whose hashes are equal. */
function collidingDomains(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; i < 2_000_000; i++) {
    const domain = `c${String(i).padStart(7, '0')}.example`;
    const hash = hashOf(domain);
    const earlier = seen.get(hash);
    if (earlier !== undefined) return [earlier, domain];
    seen.set(hash, domain);
  }
  throw new Error('no colliding pair');
}

/** The longest rule whose domain is the name or a label-aligned suffix of it, newest first, pattern permitting. */
function reference(rules: ReadonlyArray<{ app: string; domain: string; pattern: RegExp | null }>, name: string) {
  const text = normaliseName(name);
  let best: (typeof rules)[number] | null = null;
  for (const rule of rules) {
    if (text !== rule.domain && !text.endsWith(`.${rule.domain}`)) continue;
    if (rule.pattern !== null && !rule.pattern.test(text)) continue;
    if (best === null || rule.domain.length >= best.domain.length) best = rule;
  }
  return best;
}

/** mulberry32: a fixed sequence, so a failure reproduces. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
