import { describe, expect, it } from 'vitest';
import { withScriptedUpstream } from '../integration/harness.js';
import { dig } from '../support/dig.js';

const WWW = 'www.test.wachtpost';
const scripted = withScriptedUpstream({ [WWW]: [{ type: 'A', ttl: 300, data: '192.0.2.80' }] });
const { wachtpost } = scripted;

describe('CHAOS identity queries', () => {
  it('are refused by default and never forwarded', async () => {
    const wp = await wachtpost();
    const before = scripted.up.queries.length;
    for (const name of ['version.bind', 'hostname.bind', 'id.server', 'version.server']) {
      const reply = await dig(wp.server, name, 'TXT', { extra: ['-c', 'CH'] });
      expect(reply.status).toBe('REFUSED');
      expect(reply.answer).toEqual([]);
    }
    expect(scripted.up.queries.length).toBe(before);
  });

  it('get the configured identity, as TXT in class CH', async () => {
    const wp = await wachtpost('dns: { identity: "wachtpost nl-dc1-a" }');
    for (const name of ['version.bind', 'id.server']) {
      const reply = await dig(wp.server, name, 'TXT', { extra: ['-c', 'CH'] });
      expect(reply.status).toBe('NOERROR');
      expect(reply.answer).toEqual([{ name: `${name}.`, ttl: 0, class: 'CH', type: 'TXT', data: '"wachtpost nl-dc1-a"' }]);
    }
    // Any other CHAOS name, and other classes, are refused.
    expect((await dig(wp.server, 'authors.bind', 'TXT', { extra: ['-c', 'CH'] })).status).toBe('REFUSED');
    expect((await dig(wp.server, WWW, 'A', { extra: ['-c', 'HS'] })).status).toBe('REFUSED');
  });
});

describe('queries without RD', () => {
  it('are refused with EDE 20, never forwarded and never answered from the cache', async () => {
    const wp = await wachtpost();
    expect((await dig(wp.server, WWW, 'A')).status).toBe('NOERROR');
    const before = scripted.up.queries.length;
    for (const name of [WWW, 'uncached.test.wachtpost']) {
      const reply = await dig(wp.server, name, 'A', { extra: ['+norecurse'] });
      expect(reply.status).toBe('REFUSED');
      expect(reply.ede?.code).toBe(20);
      expect(reply.answer).toEqual([]);
    }
    expect(scripted.up.queries.length).toBe(before);
  });
});
