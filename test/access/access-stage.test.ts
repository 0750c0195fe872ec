import { describe, expect, it } from 'vitest';
import { AccessStage } from '../../src/access/access-stage.js';
import { ClientAcl } from '../../src/access/client-acl.js';
import { AnswerKind } from '../../src/wire/answer.js';
import { addressAnswer, makeQuery, resolveNow, served, StubStage, withNext } from '../support/stages.js';

const ALLOW = ['10.64.0.0/10', '192.0.2.16/28', '2001:db8:100::/48', '::1/128'];

function setup(mode: 'sync' | 'async' = 'sync'): { stage: AccessStage; next: StubStage } {
  const next = new StubStage((query) => addressAnswer(query, '192.0.2.1'), mode);
  return { stage: withNext(new AccessStage(new ClientAcl(ALLOW)), next), next };
}

const cases: Array<{ name: string; client: string; expect: { rcode: number } }> = [
  { name: 'first address of a v4 range', client: '10.64.0.0', expect: { rcode: 0 } },
  { name: 'last address of a v4 range', client: '10.127.255.255', expect: { rcode: 0 } },
  { name: 'just past a v4 range', client: '10.128.0.0', expect: { rcode: 5 } },
  { name: 'just before a v4 range', client: '10.63.255.255', expect: { rcode: 5 } },
  { name: 'inside a /28', client: '192.0.2.31', expect: { rcode: 0 } },
  { name: 'past a /28', client: '192.0.2.32', expect: { rcode: 5 } },
  { name: 'inside a v6 range', client: '2001:db8:100:ffff::5', expect: { rcode: 0 } },
  { name: 'the next v6 /48', client: '2001:db8:101::1', expect: { rcode: 5 } },
  { name: 'v6 loopback', client: '::1', expect: { rcode: 0 } },
  { name: 'v4-mapped v6 inside a v4 range', client: '::ffff:10.64.1.2', expect: { rcode: 0 } },
  { name: 'v4-mapped v6 outside every v4 range', client: '::ffff:10.128.0.1', expect: { rcode: 5 } },
  { name: 'v4 loopback, not listed', client: '127.0.0.1', expect: { rcode: 5 } },
  { name: 'an address that is no address', client: 'not-an-ip', expect: { rcode: 5 } },
  { name: 'an empty address', client: '', expect: { rcode: 5 } },
];

describe('AccessStage', () => {
  it.each(cases)('$name ($client) → rcode $expect.rcode', ({ client, expect: want }) => {
    const { stage, next } = setup();
    const query = makeQuery({ name: 'www.example.nl', client });
    const reply = served(query, resolveNow(stage, query));
    expect(reply.rcode).toBe(want.rcode);
    if (want.rcode === 0) {
      expect(next.received).toEqual([query]);
      expect(reply.data).toEqual(['192.0.2.1']);
    } else {
      expect(next.calls).toBe(0);
      expect(reply.data).toEqual([]);
    }
  });

  it('refuses with an Extended DNS Error (Prohibited), one shared answer for every refusal', () => {
    const { stage, next } = setup();
    const first = resolveNow(stage, makeQuery({ name: 'a.example.nl', client: '198.51.100.7' }));
    const second = resolveNow(stage, makeQuery({ name: 'b.example.nl', client: '2001:db8:200::1' }));
    expect(first).toBe(second);
    expect(first).toMatchObject({ kind: AnswerKind.SYNTHETIC, rcode: 5, edeCode: 18 });
    expect(first.edeText.toString()).toBe('client not allowed');
    expect(next.calls).toBe(0);
  });

  it("passes next's Promise through for an allowed client", async () => {
    const { stage, next } = setup('async');
    const query = makeQuery({ name: 'www.example.nl', client: '10.64.0.9' });
    const outcome = stage.resolve(query);
    expect(outcome).toBeInstanceOf(Promise);
    expect(served(query, await outcome).data).toEqual(['192.0.2.1']);
    expect(next.calls).toBe(1);
  });

  it('keeps its verdicts when the same addresses ask again', () => {
    const { stage, next } = setup();
    for (let round = 0; round < 3; round++) {
      expect(resolveNow(stage, makeQuery({ name: 'www.example.nl', client: '10.128.0.1' })).rcode).toBe(5);
      expect(resolveNow(stage, makeQuery({ name: 'www.example.nl', client: '10.64.0.1' })).rcode).toBe(0);
    }
    expect(next.calls).toBe(3);
  });
});
