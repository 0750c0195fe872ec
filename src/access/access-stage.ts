import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { Answer } from '../wire/answer.js';
import { EdeCode, Rcode } from '../wire/constants.js';
import type { ClientAcl } from './client-acl.js';

const REFUSED = Answer.synthetic(Rcode.REFUSED, EdeCode.PROHIBITED, 'client not allowed');

/** First link: clients outside the ACL get REFUSED before any work is done for them. */
export class AccessStage extends Stage {
  readonly name = 'access';

  constructor(private readonly acl: ClientAcl) {
    super();
  }

  resolve(query: Query): Answer | Promise<Answer> {
    if (!this.acl.allows(query.client)) return REFUSED;
    return this.next.resolve(query);
  }
}
