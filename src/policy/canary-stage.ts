import type { Config } from '../config/schema.js';
import type { Query } from '../pipeline/query.js';
import { Stage } from '../pipeline/stage.js';
import { toWire } from '../tagging/signature-index.js';
import { Answer } from '../wire/answer.js';
import { Rcode } from '../wire/constants.js';
import { Verdict } from './verdict.js';

/** A canary name and the verdict its lookups are recorded with. */
interface Canary {
  /** Lower-case wire form including the root label, as `query.question` starts. */
  readonly wire: Buffer;
  readonly verdict: Verdict;
}

const NXDOMAIN = Answer.synthetic(Rcode.NXDOMAIN);

/**
 * Names that devices ask the network's resolver before they switch to their own encrypted
 * DNS. A negative answer keeps them here: Firefox checks use-application-dns.net (Mozilla's
 * canary domain: NXDOMAIN disables DoH by default), iOS and macOS check mask.icloud.com and
 * mask-h2.icloud.com (Apple: a negative answer turns iCloud Private Relay off for the
 * network). Each lookup is recorded as a bypass signal. Exact names only, compared as bytes.
 */
export class CanaryStage extends Stage {
  readonly name = 'canary';
  private readonly canaries: readonly Canary[];

  constructor(settings: Config['events']['canaries']) {
    super();
    const names = [
      ...(settings.use_application_dns ? ['use-application-dns.net'] : []),
      ...(settings.icloud_private_relay ? ['mask.icloud.com', 'mask-h2.icloud.com'] : []),
    ];
    this.canaries = names.map((name) => ({
      wire: Buffer.concat([toWire(name), Buffer.alloc(1)]),
      verdict: new Verdict('block', `canary:${name}`, null, true),
    }));
  }

  resolve(query: Query): Answer | Promise<Answer> {
    const nameLength = query.questionLength - 4;
    for (const canary of this.canaries) {
      if (canary.wire.length === nameLength && canary.wire.compare(query.question, 0, nameLength) === 0) {
        query.verdict = canary.verdict;
        return NXDOMAIN;
      }
    }
    return this.next.resolve(query);
  }
}
