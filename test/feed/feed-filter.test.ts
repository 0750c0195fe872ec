import { describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { FeedError } from '../../src/feed/feed-error.js';
import { FeedFilter, parseFilter } from '../../src/feed/feed-filter.js';
import { parseClientMessage } from '../../src/feed/feed-protocol.js';
import { parseFeedQuery } from '../../src/feed/feed-request.js';

const sample: DetectionEvent = {
  id: 1,
  ts: 1_750_000_000_000,
  kind: 'detection',
  instance: 'test',
  client: '2001:db8::7',
  device: null,
  group: 'ministry-a',
  qname: 'api.tiktokv.com',
  qtype: 'A',
  rcode: 'NOERROR',
  app: { id: 'tiktok', name: 'TikTok', owner: 'ByteDance Ltd.', owner_country: 'CN' },
  matched_name: 'tiktokv.com',
  attribution: 'name',
  owner: { name: 'ByteDance Ltd.', country: 'CN' },
  hosting: [
    { ip: '192.0.2.1', country: 'NL', asn: 64_500, org: 'Example' },
    { ip: '192.0.2.2', country: null, asn: null, org: null },
    { ip: '192.0.2.3', country: 'SG', asn: 64_501, org: 'Example' },
  ],
  owner_watchlisted: true,
  hosting_watchlisted: false,
  action: 'block',
  rule: 'owner-country:CN',
  exemption: null,
  latency_ms: 1,
  cached: false,
  count: 1,
};

function rejects(parse: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    parse();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(FeedError);
  expect((thrown as FeedError).code).toBe(code);
  expect((thrown as FeedError).message).toMatch(message);
}

describe('parseFilter', () => {
  it('accepts comma lists and arrays, and normalises countries and addresses', () => {
    expect(
      parseFilter({
        app: 'tiktok,wechat',
        action: ['block', 'monitor,block'],
        kind: 'residual',
        group: 'ministry-a',
        owner_country: 'cn',
        hosting_country: ' ru , CN',
        client: ['2001:DB8:0:0::7', 'p:0123456789abcdef01234567', '10.0.0.1'],
      }),
    ).toEqual({
      app: ['tiktok', 'wechat'],
      action: ['block', 'monitor'],
      kind: ['residual'],
      group: ['ministry-a'],
      owner_country: ['CN'],
      hosting_country: ['RU', 'CN'],
      client: ['2001:db8::7', 'p:0123456789abcdef01234567', '10.0.0.1'],
    });
    expect(parseFilter({})).toEqual({});
  });

  it.each([
    [{ colour: 'red' }, /unknown filter field "colour"/],
    [JSON.parse('{"__proto__":"x"}') as Record<string, unknown>, /unknown filter field "__proto__"/],
    [{ toString: 'x' }, /unknown filter field "toString"/],
    [{ action: 'blok' }, /action: "blok" is not one of allow, monitor, block, exempt/],
    [{ kind: 'detection,' }, /kind: "" is not/],
    [{ app: 'TikTok' }, /app: "TikTok" is not an app id/],
    [{ group: 'a b' }, /group/],
    [{ owner_country: 'CHN' }, /owner_country: "CHN" is not an ISO 3166-1/],
    [{ client: '10.0.0.256' }, /client: "10.0.0.256"/],
    [{ client: 'p:XYZ' }, /client/],
    [{ app: [] }, /app: needs at least one value/],
    [{ app: 5 }, /app: must be a comma-separated string or an array of strings/],
    [{ app: ['tiktok', null] }, /app: must be/],
    [{ app: Array.from({ length: 65 }, (_, i) => `app-${i}`) }, /at most 64 values/],
  ])('rejects %o', (fields, message) => rejects(() => parseFilter(fields), 'bad_filter', message));
});

describe('FeedFilter', () => {
  const matches = (fields: Record<string, unknown>, event: Partial<DetectionEvent> = {}) =>
    new FeedFilter(parseFilter(fields)).matches({ ...sample, ...event });

  it('matches everything when empty', () => {
    expect(matches({})).toBe(true);
    expect(matches({}, { app: null, group: null, hosting: [] })).toBe(true);
  });

  it.each([
    ['app', 'tiktok', 'wechat'],
    ['action', 'block', 'allow,monitor'],
    ['kind', 'detection', 'residual'],
    ['group', 'ministry-a', 'ministry-b'],
    ['owner_country', 'CN', 'RU'],
    ['attribution', 'name', 'network'],
    ['hosting_country', 'SG', 'RU,US'],
    ['client', '2001:DB8::7', '2001:db8::8'],
  ])('%s: matches %s, not %s', (field, hit, miss) => {
    expect(matches({ [field]: hit })).toBe(true);
    expect(matches({ [field]: `${miss},${hit}` })).toBe(true);
    expect(matches({ [field]: miss })).toBe(false);
  });

  it('device: matches the device id (any case asked) or its pseudonym, never an event without a device', () => {
    expect(matches({ device: 'Phone-7' }, { device: 'phone-7' })).toBe(true);
    expect(matches({ device: 'phone-8' }, { device: 'phone-7' })).toBe(false);
    expect(matches({ device: 'p:0123456789abcdef01234567' }, { device: 'p:0123456789abcdef01234567' })).toBe(true);
    expect(matches({ device: 'phone-7' })).toBe(false);
    expect(() => parseFilter({ device: 'not_a_device' })).toThrow(/device: "not_a_device" is not a device id/);
  });

  it('does not match app, owner or group fields of events without them', () => {
    expect(matches({ app: 'tiktok' }, { app: null })).toBe(false);
    expect(matches({ owner_country: 'CN' }, { app: null, attribution: null, owner: null })).toBe(false);
    expect(matches({ attribution: 'name' }, { app: null, attribution: null, owner: null })).toBe(false);
    expect(matches({ group: 'ministry-a' }, { group: null })).toBe(false);
    expect(matches({ hosting_country: 'NL' }, { hosting: [] })).toBe(false);
  });

  it('filters on attribution, and on the owner country of name and network attributions alike', () => {
    const network = { app: null, matched_name: null, attribution: 'network', owner: { name: 'Yandex', country: 'RU' } } as const;
    expect(matches({ attribution: 'network' }, network)).toBe(true);
    expect(matches({ attribution: 'name' }, network)).toBe(false);
    expect(matches({ attribution: 'name,network' })).toBe(true);
    expect(matches({ owner_country: 'ru' }, network)).toBe(true);
    expect(matches({ owner_country: 'CN' }, network)).toBe(false);
    expect(matches({ app: 'tiktok' }, network)).toBe(false);
    expect(() => parseFilter({ attribution: 'guess' })).toThrow(/attribution: "guess" is not one of name, network/);
  });

  it('needs every field to match', () => {
    expect(matches({ app: 'tiktok', action: 'block', hosting_country: 'NL' })).toBe(true);
    expect(matches({ app: 'tiktok', action: 'allow', hosting_country: 'NL' })).toBe(false);
  });
});

describe('parseFeedQuery', () => {
  it('separates resume parameters from the filter', () => {
    expect(parseFeedQuery({ since: '42', app: 'tiktok' })).toEqual({ filter: { app: ['tiktok'] }, since: 42, backlog: 0 });
    expect(parseFeedQuery({ backlog: '1000' })).toEqual({ filter: {}, since: null, backlog: 1000 });
    expect(parseFeedQuery({})).toEqual({ filter: {}, since: null, backlog: 0 });
  });

  it.each([
    [{ since: '-1' }, /since must be an integer/],
    [{ since: '1.5' }, /since/],
    [{ since: ['1', '2'] }, /since/],
    [{ backlog: '1001' }, /backlog must be an integer from 0 to 1000/],
    [{ since: '1', backlog: '2' }, /exclude each other/],
  ])('rejects %o', (query, message) => rejects(() => parseFeedQuery(query), 'bad_resume', message));
});

describe('parseClientMessage', () => {
  const parse = (text: string, binary = false) => parseClientMessage(Buffer.from(text), binary);

  it('reads filter and resume messages', () => {
    expect(parse('{"type":"filter","kind":"bypass"}')).toEqual({ type: 'filter', filter: { kind: ['bypass'] } });
    expect(parse('{"type":"resume","since":7}')).toEqual({ type: 'resume', since: 7 });
  });

  it.each([
    ['{not json', false, 'bad_message', /not valid JSON/],
    ['[1]', false, 'bad_message', /JSON object/],
    ['{"type":"filter"}', true, 'bad_message', /JSON text/],
    ['{"type":"subscribe"}', false, 'bad_message', /type must be/],
    ['{"type":"filter","app":"x y"}', false, 'bad_filter', /app/],
    ['{"type":"resume"}', false, 'bad_resume', /since/],
    ['{"type":"resume","since":1.5}', false, 'bad_resume', /since/],
    ['{"type":"resume","since":1,"until":2}', false, 'bad_resume', /unknown field "until"/],
  ])('rejects %s', (text, binary, code, message) => rejects(() => parse(text, binary), code, message));
});
