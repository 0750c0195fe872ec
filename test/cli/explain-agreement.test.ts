import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DetectionEvent } from '../../src/events/detection-event.js';
import { sleep, withServedWachtpost } from '../integration/harness.js';
import { dig } from '../support/dig.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const ADMIN = 'explain-agreement-admin-token-0123';

/**
 * One name of each kind the server treats differently: its app by name, an app reached
 * only through a CNAME, the DoH and Private Relay canaries, a DoH endpoint, an answer in an
 * owner's own network, a name of the local rules file, a watch-listed hosting and a plain name.
 */
const NAMES = [
  'api16-normal-c-useast1a.tiktokv.com',
  'cloaked.test.wachtpost',
  'use-application-dns.net',
  'mask.icloud.com',
  'dns.google',
  'ru-hosted.test.wachtpost',
  'mail.test.wachtpost',
  'cn-hosted.test.wachtpost',
  'a.test.wachtpost',
];

/** What both sides must agree on for a name. */
interface Decision {
  rcode: string;
  action: string;
  rule: string | null;
  event: string | null;
  app: string | null;
  attribution: string | null;
}

const setup = withServedWachtpost(async (dir) => {
  const rules = join(dir, 'local-rules.yaml');
  await writeFile(rules, 'rules:\n  - { app: wechat, domain: mail.test.wachtpost, source: "capture of 2026-12-01", verified: 2026-12-03 }\n');
  return ['mode: enforce', 'detection:', `  local_rules: ${JSON.stringify(rules)}`, 'policy:', '  network_attribution: block', `history:\n  path: ${JSON.stringify(join(dir, 'history.sqlite'))}`, ''].join('\n');
}, { WACHTPOST_ADMIN_TOKEN: ADMIN });

function explainJson(name: string): Promise<Record<string, unknown>> {
  const args = [CLI, 'explain', name, '--config', setup.config, '--upstream', `127.0.0.1:${setup.knot.port}`, '--client', '127.0.0.1', '--resolve', '--json'];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)))),
  );
}

/** The stored events of the server, by name, once `count` of them are in the history. */
async function serverEvents(count: number): Promise<Map<string, DetectionEvent>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${setup.served.httpPort}/api/events?limit=100`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const { events } = (await response.json()) as { events: DetectionEvent[] };
    if (events.length >= count || Date.now() > deadline) return new Map(events.map((event) => [event.qname, event]));
    await sleep(100);
  }
}

describe('wachtpost explain and wachtpost serve', { timeout: 120_000 }, () => {
  it('reach the same decision for every kind of name', async () => {
    const explained = new Map<string, Decision>();
    const results = await Promise.all(NAMES.map((name) => explainJson(name)));
    NAMES.forEach((name, i) => {
      const result = results[i]!;
      const decision = result.decision as { action: string; rule: string | null };
      const app = result.app as { id: string } | null;
      explained.set(name, { rcode: String(result.rcode), action: decision.action, rule: decision.rule, event: result.event as string | null, app: app?.id ?? null, attribution: result.attribution as string | null });
    });

    const rcodes = new Map<string, string>();
    for (const name of NAMES) rcodes.set(name, (await dig({ host: '127.0.0.1', port: setup.served.port }, name, 'A')).status);
    const recorded = [...explained.values()].filter((decision) => decision.event !== null).length;
    const events = await serverEvents(recorded);
    const served = new Map<string, Decision>(
      NAMES.map((name) => {
        const event = events.get(name);
        return [
          name,
          {
            rcode: rcodes.get(name)!,
            action: event?.action ?? 'allow',
            rule: event?.rule ?? null,
            event: event?.kind ?? null,
            app: event?.app?.id ?? null,
            attribution: event?.attribution ?? null,
          },
        ];
      }),
    );
    expect(Object.fromEntries(explained)).toEqual(Object.fromEntries(served));
    // And what they agree on is what each kind of name should get.
    expect(Object.fromEntries(explained)).toMatchObject({
      'api16-normal-c-useast1a.tiktokv.com': { rcode: 'NXDOMAIN', action: 'block', rule: 'owner-country:CN', app: 'tiktok', attribution: 'name' },
      'cloaked.test.wachtpost': { rcode: 'NXDOMAIN', action: 'block', app: 'tiktok' },
      'use-application-dns.net': { rcode: 'NXDOMAIN', action: 'block', rule: 'canary:use-application-dns.net', event: 'bypass' },
      'mask.icloud.com': { rcode: 'NXDOMAIN', action: 'block', rule: 'canary:mask.icloud.com', event: 'bypass' },
      'dns.google': { action: 'allow', event: 'bypass' },
      'ru-hosted.test.wachtpost': { rcode: 'NXDOMAIN', action: 'block', rule: 'owner-network:RU', attribution: 'network', app: null },
      'mail.test.wachtpost': { rcode: 'NXDOMAIN', action: 'block', app: 'wechat', attribution: 'name' },
      'cn-hosted.test.wachtpost': { rcode: 'NOERROR', action: 'allow', event: 'detection', attribution: null },
      'a.test.wachtpost': { rcode: 'NOERROR', action: 'allow', event: null },
    });
  });
});
