import { ACTIONS } from '../pipeline/action.js';
import type { Query } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';

/**
 * Answered queries by type and by policy action, as plain array increments: the hot path
 * never builds a label string; the metrics collector reads these at scrape time.
 */
export class QueryCounters {
  readonly byType = new Float64Array(65_536);
  readonly byAction = new Float64Array(ACTIONS.length);

  answered(query: Query, _answer: Answer): void {
    this.byType[query.qtype]!++;
    const verdict = query.verdict;
    this.byAction[verdict === null ? 0 : verdict.actionIndex]!++;
  }
}
