import type { Query } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';
import { EVENT_ACTIONS } from '../events/detection-event.js';


/**
 * Answered queries by type and by policy action, as plain array increments: the hot path
 * never builds a label string; the metrics collector reads these at scrape time.
 */
export class QueryCounters {
  readonly byType = new Float64Array(65_536);
  readonly byAction = new Float64Array(EVENT_ACTIONS.length);

  answered(query: Query, _answer: Answer): void {
    this.byType[query.qtype]!++;
    // Indices follow EVENT_ACTIONS: allow, monitor, block, exempt.
    const action = query.verdict?.action;
    this.byAction[action === undefined || action === 'allow' ? 0 : action === 'monitor' ? 1 : action === 'block' ? 2 : 3]!++;
  }
}
