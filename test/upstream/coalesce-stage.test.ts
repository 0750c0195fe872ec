import { describe, expect, it } from 'vitest';
import type { Answer } from '../../src/wire/answer.js';
import { UpstreamFailure } from '../../src/upstream/errors.js';
import { CoalesceStage } from '../../src/upstream/coalesce-stage.js';
import { TYPE } from '../support/packets.js';
import { addressAnswer, deferred, flush, makeQuery, StubStage, withNext, type Deferred, type QuerySpec } from '../support/stages.js';

/** A stage whose next holds every exchange, each with a Promise of its own, until the test settles it. */
function coalesce(): { stage: CoalesceStage; next: StubStage; pending: Deferred<Answer>[] } {
  const pending: Deferred<Answer>[] = [];
  const next = new StubStage(() => {
    const held = deferred<Answer>();
    pending.push(held);
    return held.promise;
  });
  return { stage: withNext(new CoalesceStage(), next), next, pending };
}

describe('CoalesceStage', () => {
  it.each<{ name: string; first: QuerySpec; second: QuerySpec; expect: { shared: boolean } }>([
    { name: 'the same question', first: { name: 'www.example.nl' }, second: { name: 'www.example.nl' }, expect: { shared: true } },
    { name: 'the same question from another client', first: { name: 'www.example.nl' }, second: { name: 'www.example.nl', client: '10.1.2.3' }, expect: { shared: true } },
    { name: 'the name spelt in another case (the key is the lower-cased question)', first: { name: 'www.example.nl' }, second: { name: 'WWW.Example.NL' }, expect: { shared: true } },
    { name: 'another name', first: { name: 'www.example.nl' }, second: { name: 'mail.example.nl' }, expect: { shared: false } },
    { name: 'another type', first: { name: 'www.example.nl' }, second: { name: 'www.example.nl', qtype: TYPE.AAAA }, expect: { shared: false } },
    { name: 'the DO bit', first: { name: 'www.example.nl' }, second: { name: 'www.example.nl', dnssecOk: true }, expect: { shared: false } },
    { name: 'the CD bit', first: { name: 'www.example.nl' }, second: { name: 'www.example.nl', checkingDisabled: true }, expect: { shared: false } },
  ])('$name while the first is in flight → shared: $expect.shared', async ({ first, second, expect: want }) => {
    const { stage, next, pending } = coalesce();
    const a = stage.resolve(makeQuery(first));
    const b = stage.resolve(makeQuery(second));
    expect(next.calls).toBe(want.shared ? 1 : 2);
    expect(stage.coalesced).toBe(want.shared ? 1 : 0);
    const answers = pending.map((_, i) => addressAnswer(next.received[i]!, next.received[i]!.qtype === TYPE.AAAA ? '2001:db8::1' : `192.0.2.${i + 1}`));
    pending.forEach((held, i) => held.resolve(answers[i]!));
    expect(await a).toBe(answers[0]);
    expect(await b).toBe(answers[want.shared ? 0 : 1]);
  });

  it('shares one exchange among any number of waiters', async () => {
    const { stage, next, pending } = coalesce();
    const waiters = Array.from({ length: 50 }, () => stage.resolve(makeQuery('www.example.nl')));
    expect(next.calls).toBe(1);
    const answer = addressAnswer(next.received[0]!, '192.0.2.1');
    pending[0]!.resolve(answer);
    for (const waiter of await Promise.all(waiters)) expect(waiter).toBe(answer);
    expect(stage.coalesced).toBe(49);
  });

  it('forgets a question once its answer is in: the next one asks again', async () => {
    const { stage, next, pending } = coalesce();
    const first = stage.resolve(makeQuery('www.example.nl'));
    pending[0]!.resolve(addressAnswer(next.received[0]!, '192.0.2.1'));
    await first;
    await flush();
    const second = stage.resolve(makeQuery('www.example.nl'));
    expect(next.calls).toBe(2);
    const fresh = addressAnswer(next.received[1]!, '192.0.2.2');
    pending[1]!.resolve(fresh);
    expect(await second).toBe(fresh);
  });

  it('fails every waiter with the one error, then forgets the question', async () => {
    const { stage, next, pending } = coalesce();
    const failure = new UpstreamFailure('no upstream answered within 1500 ms');
    const waiters = [stage.resolve(makeQuery('www.example.nl')), stage.resolve(makeQuery('www.example.nl'))];
    pending[0]!.reject(failure);
    for (const waiter of waiters) await expect(waiter).rejects.toBe(failure);
    await flush();
    void stage.resolve(makeQuery('www.example.nl'));
    expect(next.calls).toBe(2);
  });

  it('turns a synchronous answer from next into a Promise it can share', async () => {
    const next = new StubStage((query) => addressAnswer(query, '192.0.2.1'));
    const stage = withNext(new CoalesceStage(), next);
    const outcome = stage.resolve(makeQuery('www.example.nl'));
    expect(outcome).toBeInstanceOf(Promise);
    expect((await outcome).rcode).toBe(0);
    await flush();
    await stage.resolve(makeQuery('www.example.nl'));
    expect(next.calls).toBe(2);
  });

  it('never hands the answer to another question that happens to share the key', async () => {
    const { stage, next, pending } = coalesce();
    const first = makeQuery('a.example.nl');
    const other = makeQuery('b.example.nl');
    other.key = first.key; // force a collision
    const a = stage.resolve(first);
    const b = stage.resolve(other);
    expect(next.calls).toBe(2);
    expect(stage.coalesced).toBe(0);
    const answers = [addressAnswer(first, '192.0.2.1'), addressAnswer(other, '192.0.2.2')];
    pending[1]!.resolve(answers[1]!);
    pending[0]!.resolve(answers[0]!);
    expect(await a).toBe(answers[0]);
    expect(await b).toBe(answers[1]);
  });
});
