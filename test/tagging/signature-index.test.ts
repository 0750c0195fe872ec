import { describe, expect, it } from 'vitest';
import { SignatureIndex } from '../../src/tagging/signature-index.js';
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
});
