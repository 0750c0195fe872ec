import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { CanaryStage } from '../../src/policy/canary-stage.js';
import { AnswerKind } from '../../src/wire/answer.js';
import { testConfig } from '../support/detection.js';
import { TYPE } from '../support/packets.js';
import { addressAnswer, makeQuery, resolveNow, served, StubStage, withNext } from '../support/stages.js';

type Canaries = Config['events']['canaries'];

function setup(settings: Canaries = testConfig().events.canaries): { stage: CanaryStage; next: StubStage } {
  const next = new StubStage((query) => addressAnswer(query, '192.0.2.1'));
  return { stage: withNext(new CanaryStage(settings), next), next };
}

const canaries: Array<{ name: string; qtype: number }> = [
  { name: 'use-application-dns.net', qtype: TYPE.A },
  { name: 'USE-Application-DNS.net', qtype: TYPE.AAAA },
  { name: 'mask.icloud.com', qtype: TYPE.A },
  { name: 'mask-h2.icloud.com', qtype: TYPE.HTTPS },
  { name: 'Mask.iCloud.COM', qtype: TYPE.AAAA },
];

const passedOn = [
  'www.use-application-dns.net',
  'application-dns.net',
  'use-application-dns.net.example.nl',
  'icloud.com',
  'mask-api.icloud.com',
  'x.mask.icloud.com',
];

describe('CanaryStage', () => {
  it.each(canaries)('answers $name ($qtype) locally with NXDOMAIN and records a bypass signal', ({ name, qtype }) => {
    const { stage, next } = setup();
    const query = makeQuery({ name, qtype });
    const answer = resolveNow(stage, query);
    expect(answer.kind).toBe(AnswerKind.SYNTHETIC);
    expect(served(query, answer)).toEqual({ rcode: 3, data: [], ttls: [], soa: false });
    expect(query.verdict).toMatchObject({ action: 'block', rule: `canary:${name.toLowerCase()}`, exemption: null, bypassSignal: true });
    expect(next.calls).toBe(0);
  });

  it.each(passedOn)('passes %s on untouched', (name) => {
    const { stage, next } = setup();
    const query = makeQuery(name);
    expect(served(query, resolveNow(stage, query))).toMatchObject({ rcode: 0, data: ['192.0.2.1'] });
    expect(query.verdict).toBeNull();
    expect(next.received).toEqual([query]);
  });

  it('passes the Mozilla canary on when it is switched off, and still answers the Apple ones', () => {
    const { stage, next } = setup({ use_application_dns: false, icloud_private_relay: true });
    expect(resolveNow(stage, makeQuery('use-application-dns.net')).rcode).toBe(0);
    expect(resolveNow(stage, makeQuery('mask.icloud.com')).rcode).toBe(3);
    expect(next.calls).toBe(1);
  });

  it('passes the Apple canaries on when they are switched off, and still answers the Mozilla one', () => {
    const { stage, next } = setup({ use_application_dns: true, icloud_private_relay: false });
    expect(resolveNow(stage, makeQuery('mask.icloud.com')).rcode).toBe(0);
    expect(resolveNow(stage, makeQuery('mask-h2.icloud.com')).rcode).toBe(0);
    expect(resolveNow(stage, makeQuery('use-application-dns.net')).rcode).toBe(3);
    expect(next.calls).toBe(2);
  });

  it("returns next's Promise for everything else", async () => {
    const { stage, next } = setup();
    next.mode = 'async';
    const query = makeQuery('www.example.nl');
    const outcome = stage.resolve(query);
    expect(outcome).toBeInstanceOf(Promise);
    expect((await outcome).rcode).toBe(0);
  });
});
