import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CandidateView } from '../../src/discovery/discovery-queue.js';
import { dig } from '../support/dig.js';
import { sleep, withServedWachtpost } from './harness.js';

const ADMIN = 'discovery-e2e-admin-token-0123456789';
const TIKTOK = 'api16-normal-c-useast1a.tiktokv.com';
const WAIT_MS = 20_000;

const setup = withServedWachtpost(
  (dir) =>
    [
      'mode: enforce',
      'detection:',
      // Created by the first promotion.
      `  local_rules: ${JSON.stringify(join(dir, 'local-rules.yaml'))}`,
      // A long window: under load, the name after the app's must still count as following it.
      'discovery:',
      '  window_ms: 60000',
      'history:',
      `  path: ${JSON.stringify(join(dir, 'history.sqlite'))}`,
      '',
    ].join('\n'),
  { WACHTPOST_ADMIN_TOKEN: ADMIN },
);

const dns = () => ({ host: '127.0.0.1', port: setup.served.port });

function api(path: string, payload?: object): Promise<Response> {
  return fetch(`http://127.0.0.1:${setup.served.httpPort}${path}`, {
    method: payload === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
}

/** The candidates once `ready` holds for them (workers report once a second). */
async function candidatesWhen(ready: (candidates: CandidateView[]) => boolean): Promise<CandidateView[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const { candidates } = (await (await api('/api/discovery')).json()) as { candidates: CandidateView[] };
    if (ready(candidates) || Date.now() > deadline) return candidates;
    await sleep(200);
  }
}

const named = (candidates: CandidateView[], name: string) => candidates.find((candidate) => candidate.name === name);

describe('discovery queue of a running server', { timeout: 90_000 }, () => {
  it('offers names that follow an app and names in an owner network, promotes one into a rule the server then applies, and dismisses another', async () => {
    expect((await dig(dns(), TIKTOK, 'A')).status).toBe('NXDOMAIN');
    expect((await dig(dns(), 'a.test.wachtpost', 'A')).status).toBe('NOERROR');
    expect((await dig(dns(), 'ru-hosted.test.wachtpost', 'A')).status).toBe('NOERROR');

    const candidates = await candidatesWhen((list) => named(list, 'a.test.wachtpost') !== undefined && named(list, 'ru-hosted.test.wachtpost') !== undefined);
    expect(named(candidates, 'a.test.wachtpost')).toMatchObject({ reasons: ['follows'], follows: [{ app: 'tiktok', count: 1 }], devices: 1, queries: 1 });
    expect(named(candidates, 'ru-hosted.test.wachtpost')).toMatchObject({
      reasons: ['network', 'hosting', 'follows'],
      network: { owner: 'Yandex MKPAO', country: 'RU', asn: 13238 },
      hosting: [{ country: 'RU', asn: 13238 }],
    });
    // An app's own name has a rule already; the address of the device is never shown.
    expect(named(candidates, TIKTOK)).toBeUndefined();
    expect(JSON.stringify(candidates)).not.toContain('127.0.0.1');

    const promoted = await api('/api/discovery/a.test.wachtpost/promote', { app: 'tiktok', reason: 'INC-7: seen right after TikTok' });
    expect(promoted.status).toBe(200);
    expect(await readFile(join(setup.dir, 'local-rules.yaml'), 'utf8')).toContain('domain: a.test.wachtpost');
    // The worker reloads the file it watches: from then on the name is TikTok's, and blocked.
    const deadline = Date.now() + WAIT_MS;
    let result = await dig(dns(), 'a.test.wachtpost', 'A');
    while (result.status !== 'NXDOMAIN' && Date.now() < deadline) {
      await sleep(200);
      result = await dig(dns(), 'a.test.wachtpost', 'A');
    }
    expect(result.status).toBe('NXDOMAIN');
    expect(result.ede?.text).toBe('blocked by wachtpost: owner-country:CN');
    expect(named(await candidatesWhen(() => true), 'a.test.wachtpost')).toBeUndefined();

    expect((await api('/api/discovery/ru-hosted.test.wachtpost/dismiss', {})).status).toBe(200);
    // Asked again, then a new candidate after it: once that one is listed, the worker's
    // report with the dismissed name has been merged too, and left it out.
    await dig(dns(), 'ru-hosted.test.wachtpost', 'AAAA');
    await dig(dns(), 'cn-hosted.test.wachtpost', 'A');
    const after = await candidatesWhen((list) => named(list, 'cn-hosted.test.wachtpost') !== undefined);
    expect(named(after, 'cn-hosted.test.wachtpost')).toMatchObject({ reasons: ['hosting', 'follows'], hosting: [{ country: 'CN', asn: 4847 }] });
    expect(named(after, 'ru-hosted.test.wachtpost')).toBeUndefined();
  });
});
