import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import type { Swappable } from '../pipeline/swappable.js';
import { AnswerKind, type Answer } from '../wire/answer.js';
import type { Detection } from './detection.js';
import { tagAnswer } from './tagger.js';

/**
 * Sits below coalescing: every upstream answer is tagged exactly once, before it is shared
 * with waiting clients or stored in the cache, so cache hits never repeat the work.
 */
export class TagStage extends Stage {
  readonly name = 'tag';

  constructor(private readonly detection: Swappable<Detection>) {
    super();
  }

  async resolve(query: Query): Promise<Answer> {
    const answer = await this.next.resolve(query);
    if (answer.kind !== AnswerKind.SYNTHETIC && answer.tags === null) this.tag(query, answer);
    return answer;
  }

  /** Tags an answer with the current detection data (also for cached answers another worker stored). */
  tag(query: Query, answer: Answer): void {
    answer.tags = tagAnswer(query, answer, this.detection.current);
  }
}
