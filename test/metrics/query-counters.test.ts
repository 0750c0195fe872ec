import { describe, expect, it } from 'vitest';
import { QueryCounters } from '../../src/metrics/query-counters.js';
import { ACTIONS } from '../../src/pipeline/action.js';
import { Query } from '../../src/pipeline/query.js';
import { ALLOW, Verdict } from '../../src/policy/verdict.js';
import { Answer } from '../../src/wire/answer.js';
import { Rcode } from '../../src/wire/constants.js';
import { readRequest } from '../../src/wire/request.js';
import { encodeQuery, TYPE } from '../support/packets.js';

function query(type: number, verdict: Verdict | null): Query {
  const query = new Query();
  readRequest(encodeQuery('www.example.nl', type, { id: 1 }), query);
  query.verdict = verdict;
  return query;
}

describe('QueryCounters', () => {
  it('counts every answered query by type and by its verdict, no verdict as allow', () => {
    const counters = new QueryCounters();
    const answer = Answer.synthetic(Rcode.NOERROR);
    const verdicts = [null, ALLOW, new Verdict('monitor', 'app:tiktok', null), new Verdict('block', 'owner-country:CN', null), new Verdict('block', 'app:temu', null), new Verdict('exempt', 'app:tiktok', 'inspectie')];
    for (const verdict of verdicts) counters.answered(query(TYPE.A, verdict), answer);
    counters.answered(query(TYPE.AAAA, null), answer);
    expect(counters.byType[TYPE.A]).toBe(6);
    expect(counters.byType[TYPE.AAAA]).toBe(1);
    expect(Object.fromEntries(ACTIONS.map((action, i) => [action, counters.byAction[i]]))).toEqual({ allow: 3, monitor: 1, block: 2, exempt: 1 });
  });
});
