import Fastify from 'fastify';
import type { Logger } from 'pino';
import { parseHostPort } from '../config/address.js';
import type { Swappable } from '../pipeline/swappable.js';
import type { Detection } from '../tagging/detection.js';
import type { Policy } from './policy.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/**
 * The page a phone's browser lands on when a blocked name resolves to the sinkhole: which
 * app the name belongs to, who owns it, and the rule that blocks it for this device's
 * group. Plain HTTP (HTTPS would need a certificate for every blocked name); status 451.
 */
export async function startNoticeServer(
  listen: string,
  detection: Swappable<Detection>,
  policy: Swappable<Policy>,
  log: Logger,
): Promise<{ close(): Promise<void> }> {
  const app = Fastify({ loggerInstance: log.child({ component: 'notice' }), disableRequestLogging: true });
  app.get('/*', async (request, reply) => {
    const host = request.hostname.replace(/:\d+$/, '');
    const signature = detection.current.catalogue.index.matchName(host);
    const current = policy.current;
    const verdict = current.decide(current.groups.groupOf(request.ip), signature?.app ?? null, false, Date.now());
    const what = signature === null ? escape(host) : `${escape(signature.app.name)} (${escape(signature.app.owner)}, ${escape(signature.app.owner_country)})`;
    const body = `<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Geblokkeerd / Blocked</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem">
<h1>Niet beschikbaar op een werktelefoon</h1>
<p>${escape(host)} hoort bij ${what}. Het kabinet ontraadt apps uit landen met een offensief cyberprogramma tegen Nederland op mobiele werkapparatuur.</p>
<h2 lang="en">Not available on a work phone</h2>
<p lang="en">${escape(host)} belongs to ${what}. Apps from countries with an offensive cyber programme against the Netherlands are blocked on government work phones.</p>
<p><small>Rule: ${escape(verdict.rule ?? 'none')}. Need it for your work (inspection, investigation)? Ask your CIO office for an exemption.</small></p>
</body></html>
`;
    return reply.code(451).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
  });
  const { host, port } = parseHostPort(listen, 80);
  await app.listen({ host, port });
  return { close: () => app.close() };
}
