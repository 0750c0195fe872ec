import type { Answer } from '../wire/answer.js';
import type { AnswerTags } from './answer-tags.js';
import type { Detection } from './detection.js';
import { hostedTags } from './tagger.js';

/** Cached answers remembered at once: a power of two, as the store number picks the place. */
const PLACES = 4096;

/**
 * hostedTags() of the cache's answers, remembered per stored answer. Cached answers of no
 * app hosted on the watch list share WATCHLIST_HOSTED rather than carry their hosting (see
 * tagAnswer), so every hit of one looked its addresses up again for its event. A popular
 * one is now looked up once per store and detection data: its bytes do not change while
 * the store number stays, and a reload brings a new Detection. Bounded: one place per store
 * number modulo PLACES, the newer store taking it.
 */
export class HostedTagsMemo {
  private readonly stored = new Uint32Array(PLACES);
  private readonly tags: Array<AnswerTags | null> = new Array<AnswerTags | null>(PLACES).fill(null);
  private detection: Detection | null = null;

  of(answer: Answer, detection: Detection): AnswerTags {
    const stored = answer.stored;
    if (stored === 0) return hostedTags(answer, detection);
    if (detection !== this.detection) {
      this.detection = detection;
      this.stored.fill(0);
      this.tags.fill(null);
    }
    const place = stored & (PLACES - 1);
    if (this.stored[place] === stored) return this.tags[place]!;
    const tags = hostedTags(answer, detection);
    this.stored[place] = stored;
    this.tags[place] = tags;
    return tags;
  }
}
