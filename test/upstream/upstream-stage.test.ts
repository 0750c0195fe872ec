import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamFailure, UpstreamOverloaded } from '../../src/upstream/errors.js';
import { UpstreamServer } from '../../src/upstream/upstream-server.js';
import { UpstreamStage, type UpstreamSettings } from '../../src/upstream/upstream-stage.js';
import { AnswerKind } from '../../src/wire/answer.js';
import { freePort } from '../support/ports.js';
import { startScriptedUpstream, type Behaviour, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { makeQuery, served } from '../support/stages.js';

const NAME = 'www.test.wachtpost';
const ADDRESS = '192.0.2.80';
const records = { [NAME]: [{ type: 'A' as const, ttl: 300, data: ADDRESS }] };

/** Stopped after each test; every one listens on loopback only. */
const running: ScriptedUpstream[] = [];
afterEach(async () => {
  for (const upstream of running.splice(0)) await upstream.stop();
});

async function upstream(behaviour: Behaviour = 'answer'): Promise<ScriptedUpstream> {
  const started = await startScriptedUpstream({ records, behaviour });
  running.push(started);
  return started;
}

/** Generous per-attempt time unless a test is about timeouts: loopback answers in well under it even on a busy machine. */
function upstreamStage(servers: Array<{ port: number }>, settings: Partial<UpstreamSettings> = {}): UpstreamStage {
  return new UpstreamStage({
    servers: servers.map(({ port }) => new UpstreamServer('127.0.0.1', port, 4)),
    timeoutMs: 5000,
    failureMemoryMs: 0,
    randomizeCase: false,
    attemptTimeoutMs: 2000,
    udpSize: 1232,
    maxInFlight: 100,
    ...settings,
  });
}

describe('UpstreamStage', () => {
  it('forwards the lower-cased question and hands back the scanned answer', async () => {
    const up = await upstream();
    const observed: number[] = [];
    const stage = upstreamStage([up], { observer: { asked: () => {}, answered: (_server, _protocol, _answer, seconds) => observed.push(seconds), failed: () => {} } });
    const query = makeQuery('WWW.Test.Wachtpost');
    const answer = await stage.resolve(query);
    expect(answer).toMatchObject({ kind: AnswerKind.POSITIVE, rcode: 0, ttl: 300 });
    expect(served(query, answer)).toEqual({ rcode: 0, data: [ADDRESS], ttls: [300], soa: false });
    expect(up.queries.map(({ name, transport }) => ({ name, transport }))).toEqual([{ name: NAME, transport: 'udp' }]);
    expect(observed).toHaveLength(1);
    expect(stage.servers[0]).toMatchObject({ answered: 1, failed: 0, consecutiveFailures: 0 });
  });

  it('hands back a negative answer as the upstream gave it', async () => {
    const up = await upstream();
    const answer = await upstreamStage([up]).resolve(makeQuery('nothing.test.wachtpost'));
    expect(answer).toMatchObject({ kind: AnswerKind.NEGATIVE, rcode: 3, ttl: 30 });
  });

  it.each<{ first: Behaviour | 'closed port'; attemptTimeoutMs: number }>([
    { first: 'silent', attemptTimeoutMs: 300 },
    { first: 'closed port', attemptTimeoutMs: 2000 },
    { first: 'servfail', attemptTimeoutMs: 2000 },
    { first: 'refused', attemptTimeoutMs: 2000 },
  ])('fails over to the second server when the first is $first', async ({ first, attemptTimeoutMs }) => {
    const dead = first === 'closed port' ? { port: await freePort(), queries: [] } : await upstream(first);
    const alive = await upstream();
    const stage = upstreamStage([dead, alive], { attemptTimeoutMs });
    const query = makeQuery(NAME);
    expect(served(query, await stage.resolve(query)).data).toEqual([ADDRESS]);
    expect(alive.queries.length).toBeGreaterThanOrEqual(1);
    if (first !== 'closed port') expect(dead.queries.length).toBeGreaterThanOrEqual(1);
    if (first === 'servfail' || first === 'refused') {
      // An answer, however unhelpful, is no failure of the server; it is asked once.
      expect(dead.queries).toHaveLength(1);
      expect(stage.servers[0]).toMatchObject({ answered: 1, failed: 0 });
    } else {
      expect(stage.servers[0]!.failed).toBeGreaterThanOrEqual(1);
    }
  });

  it.each(['servfail', 'refused'] as const)('hands back the %s when every server gives one, asking each once', async (behaviour) => {
    const servers = [await upstream(behaviour), await upstream(behaviour)];
    const answer = await upstreamStage(servers).resolve(makeQuery(NAME));
    expect(answer).toMatchObject({ kind: AnswerKind.UNCACHEABLE, rcode: behaviour === 'servfail' ? 2 : 5 });
    expect(servers.map((server) => server.queries.length)).toEqual([1, 1]);
  });

  it('fails with UpstreamFailure at the overall deadline, after retrying', async () => {
    const up = await upstream('silent');
    const stage = upstreamStage([up], { timeoutMs: 1500, attemptTimeoutMs: 300 });
    const outcome = stage.resolve(makeQuery(NAME));
    await expect(outcome).rejects.toBeInstanceOf(UpstreamFailure);
    await expect(outcome).rejects.toThrow(/no upstream answered within 1500 ms/);
    // Retried, but never past the attempt limit (three for a single server).
    expect(up.queries.length).toBeGreaterThanOrEqual(2);
    expect(up.queries.length).toBeLessThanOrEqual(3);
    expect(stage.servers[0]!.failed).toBe(up.queries.length);
  });

  it('sheds load past maxInFlight without opening a socket, and takes queries again once one is done', async () => {
    const up = await upstream({ delayMs: 200 });
    const stage = upstreamStage([up], { maxInFlight: 1 });
    const first = stage.resolve(makeQuery(NAME));
    const shed = stage.resolve(makeQuery('other.test.wachtpost'));
    await expect(shed).rejects.toBeInstanceOf(UpstreamOverloaded);
    await expect(shed).rejects.toBeInstanceOf(UpstreamFailure);
    expect((await first).rcode).toBe(0);
    expect(up.queries.map((query) => query.name)).toEqual([NAME]);
    expect((await stage.resolve(makeQuery(NAME))).rcode).toBe(0);
    expect(up.queries).toHaveLength(2);
  });

  it('asks the same server again over TCP when the UDP answer is truncated', async () => {
    const up = await upstream('truncate-udp');
    const query = makeQuery(NAME);
    const answer = await upstreamStage([up]).resolve(query);
    expect(served(query, answer).data).toEqual([ADDRESS]);
    expect(up.queries.map((sent) => sent.transport)).toEqual(['udp', 'tcp']);
  });

  it.each([
    { spoofFirst: 'wrong-id' as const, counter: 'rejectedId' as const },
    { spoofFirst: 'wrong-question' as const, counter: 'rejectedQuestion' as const },
    { spoofFirst: 'other-source' as const, counter: null },
  ])('ignores a forged answer ($spoofFirst) and waits for the real one', async ({ spoofFirst, counter }) => {
    const up = await upstream({ spoofFirst, spoofAddress: '192.0.2.66' });
    const stage = upstreamStage([up]);
    const query = makeQuery(NAME);
    expect(served(query, await stage.resolve(query)).data).toEqual([ADDRESS]);
    expect(up.queries).toHaveLength(1);
    const { rejectedId, rejectedQuestion, rejectedMalformed } = stage.counters;
    // Another source never reaches the connected socket: the kernel drops it.
    expect({ rejectedId, rejectedQuestion, rejectedMalformed }).toEqual({
      rejectedId: counter === 'rejectedId' ? 1 : 0,
      rejectedQuestion: counter === 'rejectedQuestion' ? 1 : 0,
      rejectedMalformed: 0,
    });
  });

  it('needs at least one server', () => {
    expect(() => upstreamStage([])).toThrow(/at least one upstream server/);
  });
});
