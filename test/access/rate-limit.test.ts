import { describe, expect, it } from 'vitest';
import { withScriptedUpstream, type RunningWachtpost } from '../integration/harness.js';
import { dig } from '../support/dig.js';
import { udpStream } from '../support/udp-load.js';

const A = 1;
const NOERROR = 0;
const REFUSED = 5;
const WWW = 'www.test.wachtpost';
const { wachtpost } = withScriptedUpstream({ [WWW]: [{ type: 'A', ttl: 300, data: '192.0.2.80' }] });

/** `count` queries for the cached name from `address`, `window` at a time (those unanswered count after 300 ms). */
function ask(wp: RunningWachtpost, address: string, count: number, window = 1) {
  return udpStream(wp.server.port, count, window, () => WWW, A, { localAddress: address, timeoutMs: 20_000, lossMs: 300 });
}

describe('per-client query rate', () => {
  it('refuses a client beyond its rate while another client is answered', async () => {
    // No limit on error replies here: the REFUSED themselves would be limited too.
    const wp = await wachtpost('rate_limit: { queries_per_second: 5, burst: 5, errors_per_second: 0, exempt: [] }');
    const greedy = await ask(wp, '127.0.0.2', 200);
    const other = await ask(wp, '127.0.0.3', 3);
    // 200 queries take well under 20 s here: at most 5 + 5 per second are answered.
    expect(greedy.byRcode[REFUSED]).toBeGreaterThan(100);
    expect(greedy.byRcode[NOERROR]).toBeLessThan(100);
    expect(other.byRcode[NOERROR]).toBe(3);
    expect(wp.resolver.rateLimited.queries).toBe(greedy.byRcode[REFUSED]);
  });

  it('sends a limited UDP client nothing with action drop, and a TCP client REFUSED', async () => {
    const wp = await wachtpost('rate_limit: { queries_per_second: 0.1, burst: 5, action: drop, exempt: [] }');
    const greedy = await ask(wp, '127.0.0.4', 100, 20);
    expect(greedy.unanswered).toBeGreaterThan(50);
    expect(greedy.byRcode[REFUSED] ?? 0).toBe(0);
    const tcp = await dig(wp.server, WWW, 'A', { tcp: true, extra: ['-b', '127.0.0.4'] });
    expect(tcp.status).toBe('REFUSED');
  });

  it('never limits the exempt ranges, loopback by default', async () => {
    const wp = await wachtpost('rate_limit: { queries_per_second: 5, burst: 5 }');
    const local = await ask(wp, '127.0.0.1', 100);
    expect(local.byRcode[NOERROR]).toBe(100);
    expect(wp.resolver.rateLimited.queries).toBe(0);
  });
});

describe('error reply rate', () => {
  it('stops reflecting REFUSED at a client outside the access list beyond its error rate', async () => {
    const wp = await wachtpost('access: { allow: ["127.0.0.1/32"] }\nrate_limit: { errors_per_second: 1, error_burst: 5, exempt: [] }');
    const outsider = await ask(wp, '127.0.0.5', 100, 20);
    expect(outsider.byRcode[REFUSED]).toBeLessThan(30);
    expect(outsider.unanswered).toBeGreaterThan(70);
    expect(wp.resolver.rateLimited.errorReplies).toBe(outsider.unanswered);
  });
});
