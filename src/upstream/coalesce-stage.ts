import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import type { Answer } from '../wire/answer.js';

class InFlight {
  constructor(
    readonly question: Buffer,
    readonly answer: Promise<Answer>,
  ) {}
}

/**
 * Identical questions asked while one is already on its way upstream wait for that one
 * answer instead of sending their own: a burst for a popular name costs one exchange.
 */
export class CoalesceStage extends Stage {
  readonly name = 'coalesce';
  coalesced = 0;
  private readonly inFlight = new Map<number, InFlight>();

  resolve(query: Query): Answer | Promise<Answer> {
    const pending = this.inFlight.get(query.key);
    if (pending !== undefined && sameQuestion(pending.question, query.question, query.questionLength)) {
      this.coalesced++;
      return pending.answer;
    }
    const answer = Promise.resolve(this.next.resolve(query));
    if (pending === undefined) {
      const key = query.key;
      const question = Buffer.from(query.question.subarray(0, query.questionLength));
      const entry = new InFlight(question, answer);
      this.inFlight.set(key, entry);
      const forget = (): void => {
        if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
      };
      answer.then(forget, forget);
    }
    return answer;
  }
}

function sameQuestion(a: Buffer, b: Buffer, length: number): boolean {
  return a.length === length && a.compare(b, 0, length) === 0;
}
