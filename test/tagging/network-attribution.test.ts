import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { Query } from '../../src/pipeline/query.js';
import { Policy } from '../../src/policy/policy.js';
import { NO_TAGS, WATCHLIST_HOSTED } from '../../src/tagging/answer-tags.js';
import { loadDetection, type Detection } from '../../src/tagging/detection.js';
import { GeoTagger } from '../../src/tagging/geo-tagger.js';
import { tagAnswer } from '../../src/tagging/tagger.js';
import { scanResponse } from '../../src/wire/answer.js';
import { readRequest } from '../../src/wire/request.js';
import { ownerNetworkFixture } from '../support/owner-networks.js';
import { encodeQuery, encodeResponse, TYPE, type ResponseRecord } from '../support/packets.js';

const config = loadConfig({ text: '', overrides: { upstream: ['127.0.0.1:1'] } });
const fixture = ownerNetworkFixture();
const detection: Detection = { ...loadDetection(config), geo: new GeoTagger(fixture.country, fixture.asn) };

/** Tags an upstream answer for `name` holding `records`, as the tag stage does. */
function tag(name: string, type: number, records: ResponseRecord[]) {
  const query = new Query();
  readRequest(encodeQuery(name, type, { id: 7 }), query);
  const answer = scanResponse(encodeResponse(7, name, type, records), 7, query.question, query.questionLength, 1232).answer!;
  return tagAnswer(query, answer, detection);
}

const a = (name: string, address: string): ResponseRecord => ({ name, type: TYPE.A, ttl: 60, address });

describe('network attribution', () => {
  it("tags an answer of no app whose address lies in an owner's network with that owner, as network", () => {
    const tags = tag('edge.unlisted-cdn.example', TYPE.A, [a('edge.unlisted-cdn.example', '193.0.14.7')]);
    expect(tags.app).toBeNull();
    expect(tags.attribution).toBe('network');
    expect(tags.networkOwner).toMatchObject({ name: 'ByteDance Ltd.', country: 'CN' });
    // The owner sits on the watch list; the address itself is hosted in NL.
    expect(tags.ownerWatchlisted).toBe(true);
    expect(tags.hostingWatchlisted).toBe(false);
    expect(tags.hosting).toEqual([{ ip: '193.0.14.7', country: 'NL', asn: 396986, org: 'BYTEDANCE' }]);
  });

  it('finds the owner behind any address of the answer, IPv6 too, and after CNAMEs', () => {
    const tags = tag('www.example.org', TYPE.AAAA, [
      { name: 'www.example.org', type: TYPE.CNAME, ttl: 60, domain: 'edge.example.net' },
      { name: 'edge.example.net', type: TYPE.AAAA, ttl: 60, address: '2a05:d000::5' },
    ]);
    expect(tags.attribution).toBe('network');
    expect(tags.networkOwner?.name).toBe('ByteDance Ltd.');
    expect(tags.chain).toEqual(['edge.example.net']);
    const second = tag('mixed.example.org', TYPE.A, [a('mixed.example.org', '193.0.14.200'), a('mixed.example.org', '5.255.255.5')]);
    expect(second.networkOwner?.country).toBe('RU');
    expect(second.hostingWatchlisted).toBe(true);
  });

  it('leaves answers outside every owner network untagged or tagged by hosting only', () => {
    expect(tag('plain.example.org', TYPE.A, [a('plain.example.org', '193.0.14.200')])).toBe(NO_TAGS);
    const hosted = tag('cn-hosted.example.org', TYPE.A, [a('cn-hosted.example.org', '36.110.0.1')]);
    expect(hosted).toBe(WATCHLIST_HOSTED);
    expect(hosted.attribution).toBeNull();
  });

  it('prefers a name match: an app reached by name is attributed by name, whatever network serves it', () => {
    const tags = tag('api16-normal-c-useast1a.tiktokv.com', TYPE.A, [a('api16-normal-c-useast1a.tiktokv.com', '5.255.255.5')]);
    expect(tags.app?.id).toBe('tiktok');
    expect(tags.attribution).toBe('name');
    expect(tags.networkOwner).toBeNull();
  });
});

describe('policy.network_attribution', () => {
  const decide = (yaml: string, group: string | null = null) => {
    const settings = loadConfig({ text: yaml, overrides: { upstream: ['127.0.0.1:1'] } });
    const policy = Policy.compile(settings, detection.catalogue, detection.watchlist);
    const found = group === null ? null : policy.groups.groupOf(group);
    return (country: string | null) => policy.decide(found, null, false, 0, country);
  };

  it('tags by default: a network match is allowed, in enforce mode too', () => {
    const verdict = decide('mode: enforce')('CN');
    expect(verdict).toMatchObject({ action: 'allow', rule: null });
  });

  it('blocks with block, in enforce mode; monitors in monitor mode and in a monitoring group', () => {
    expect(decide('mode: enforce\npolicy: { network_attribution: block }')('CN')).toMatchObject({ action: 'block', rule: 'owner-network:CN' });
    expect(decide('policy: { network_attribution: block }')('RU')).toMatchObject({ action: 'monitor', rule: 'owner-network:RU' });
    const grouped = decide(
      'mode: enforce\npolicy:\n  network_attribution: block\n  groups: [{ name: lab, organisation: Lab, cidrs: ["10.1.0.0/16"], mode: monitor }]',
      '10.1.2.3',
    );
    expect(grouped('CN')).toMatchObject({ action: 'monitor', rule: 'owner-network:CN' });
  });

  it('acts only on owners in a watch-listed country', () => {
    expect(decide('mode: enforce\npolicy: { network_attribution: block }')('AE')).toMatchObject({ action: 'allow' });
    expect(decide('mode: enforce\npolicy: { network_attribution: block }')(null)).toMatchObject({ action: 'allow' });
  });

  it('refuses values other than tag and block', () => {
    expect(() => loadConfig({ text: 'policy: { network_attribution: guess }' })).toThrow(/network_attribution/);
  });
});
