import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import type { Swappable } from '../pipeline/swappable.js';
import { nameTags, tagsOf, WATCHLIST_HOSTED } from '../tagging/answer-tags.js';
import type { App } from '../tagging/catalogue-schema.js';
import type { Signature } from '../tagging/signature-index.js';
import { HostedTagsMemo } from '../tagging/hosted-tags.js';
import { tagAnswer } from '../tagging/tagger.js';
import type { Detection } from '../tagging/detection.js';
import { AnswerKind, type Answer } from '../wire/answer.js';
import type { Group, Policy } from './policy.js';
import { ALLOW } from './verdict.js';

/**
 * Sits above the cache: the verdict depends on the client's group, so every answer, cached
 * or fresh, is judged for the client asking. A query for an app's own name is judged before
 * anything is sent upstream; one that reaches an app only through its CNAME chain, or an
 * owner only through its network (attribution `network`), is judged on the tagged answer.
 */
export class PolicyStage extends Stage {
  readonly name = 'policy';
  private readonly hosted = new HostedTagsMemo();

  constructor(
    private readonly policy: Swappable<Policy>,
    private readonly detection: Swappable<Detection>,
  ) {
    super();
  }

  resolve(query: Query): Answer | Promise<Answer> {
    const policy = this.policy.current;
    const group = policy.groups.groupOf(query.client, query.device);
    query.group = group;
    const signature = this.detection.current.catalogue.index.match(query.question, 0, query.qnameText);
    if (signature !== null) {
      const verdict = policy.decide(group, signature.app, false, Date.now());
      if (verdict.action === 'block') {
        query.verdict = verdict;
        query.tags = nameTags(signature.app, query.qname(), this.detection.current.watchlist);
        return policy.blockAnswer(verdict.rule!);
      }
    }
    const outcome = this.next.resolve(query);
    if (outcome instanceof Promise) return outcome.then((answer) => this.judge(query, answer, signature));
    return this.judge(query, outcome, signature);
  }

  /** `signature`: the rule the query name matches now, or null. */
  private judge(query: Query, answer: Answer, signature: Signature<App> | null): Answer {
    if (answer.kind === AnswerKind.SYNTHETIC || answer.kind === AnswerKind.BLOCKED) return answer;
    let tags = tagsOf(answer);
    // Tagged before a reload gave its name a rule (a promotion, a catalogue update): tagged
    // again, as it would be now. Only such answers pay for it, once per hit until they expire.
    if (signature !== null && tags.app?.id !== signature.app.id) tags = tagAnswer(query, answer, this.detection.current);
    else if (tags === WATCHLIST_HOSTED) tags = this.hosted.of(answer, this.detection.current);
    query.tags = tags;
    const networkOwner = tags.networkOwner;
    if (tags.app === null && networkOwner === null && !tags.hostingWatchlisted) {
      query.verdict = ALLOW;
      return answer;
    }
    const policy = this.policy.current;
    const verdict = policy.decide(query.group as Group | null, tags.app, tags.hostingWatchlisted, Date.now(), networkOwner === null ? null : networkOwner.country);
    query.verdict = verdict;
    return verdict.action === 'block' ? policy.blockAnswer(verdict.rule!) : answer;
  }
}
