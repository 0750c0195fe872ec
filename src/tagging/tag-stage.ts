import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { AnswerKind, type Answer } from '../wire/answer.js';
import type { Detection } from './detection.js';
import { tagAnswer } from './tagger.js';

/** Where the current detection data lives; a reload swaps `current` in one assignment. */
export interface DetectionSource {
  readonly current: Detection;
}

/**
 * Sits below coalescing: every upstream answer is tagged exactly once, before it is shared
 * with waiting clients or stored in the cache, so cache hits never repeat the work.
 */
export class TagStage extends Stage {
  readonly name = 'tag';

  constructor(private readonly detection: DetectionSource) {
    super();
  }

  async resolve(query: Query): Promise<Answer> {
    const answer = await this.next.resolve(query);
    if (answer.kind !== AnswerKind.SYNTHETIC && answer.tags === null) answer.tags = tagAnswer(query, answer, this.detection.current);
    return answer;
  }
}
