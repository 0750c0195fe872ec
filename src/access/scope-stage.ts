import { Stage } from '../pipeline/stage.js';
import type { Query } from '../pipeline/query.js';
import { Answer, LocalAnswer } from '../wire/answer.js';
import { EdeCode, Flag, Rcode, RrClass, RrType } from '../wire/constants.js';
import { recordAtQuestion } from '../wire/question-records.js';

const TYPE_ANY = 255;
/** The CHAOS names that ask a server who and what it is (RFC 4892 and BIND's). */
const IDENTITY_NAMES = ['version.bind', 'version.server', 'hostname.bind', 'id.server'].map(wireName);
const OTHER_CLASS = Answer.synthetic(Rcode.REFUSED, EdeCode.NOT_SUPPORTED, 'only class IN is served');
const NO_RECURSION = Answer.synthetic(Rcode.REFUSED, EdeCode.NOT_AUTHORITATIVE, 'recursion desired (RD) not set');
/** RFC 9462's special-use zone and the name DDR asks: answered here, never forwarded. */
const RESOLVER_ARPA = wireName('resolver.arpa');
const DDR_NAME = wireName('_dns.resolver.arpa');
const TYPE_SVCB = 64;
const NO_DATA = new LocalAnswer(Rcode.NOERROR, Buffer.alloc(0), 0);

function wireName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])), Buffer.from([0])]);
}

/** The TXT record (class CH, TTL 0) carrying `identity`, its owner the question's name. */
function identityRecord(identity: string): Buffer {
  const text = Buffer.from(identity, 'utf8');
  return recordAtQuestion(RrType.TXT, RrClass.CH, 0, Buffer.concat([Buffer.from([text.length]), text]));
}

/**
 * Questions that are this server's own business and never go upstream. Classes other than
 * IN are refused, except the CHAOS identity names (version.bind, id.server, …), which get
 * `identity` when one is configured: forwarding them would tell any client the upstream's
 * software and host. Queries without RD are refused too (EDE 20): a resolver that answered
 * them from its cache would let one device see which names the others looked up (cache
 * snooping), and it has no authority of its own to answer them from.
 */
/** Whether the (lower-cased) name of `nameLength` bytes is resolver.arpa or below it, on label boundaries. */
function inResolverArpa(name: Buffer, nameLength: number): boolean {
  const start = nameLength - RESOLVER_ARPA.length;
  // Most names fail the last-label test at once ("arpa" and the root).
  if (start < 0 || name[nameLength - 2] !== 0x61 || RESOLVER_ARPA.compare(name, start, nameLength) !== 0) return false;
  let pos = 0;
  while (pos < start) pos += name[pos]! + 1;
  return pos === start;
}

export class ScopeStage extends Stage {
  readonly name = 'scope';
  private readonly identity: LocalAnswer | null;
  private readonly designated: LocalAnswer | null;

  /** `ddr`: the SVCB records designating the encrypted listeners (RFC 9462), or null. */
  constructor(identity: string, ddr: { records: Buffer; count: number } | null = null) {
    super();
    this.identity = identity === '' ? null : new LocalAnswer(Rcode.NOERROR, identityRecord(identity), 1);
    this.designated = ddr === null ? null : new LocalAnswer(Rcode.NOERROR, ddr.records, ddr.count);
  }

  resolve(query: Query): Answer | Promise<Answer> {
    if (query.qclass !== RrClass.IN) return this.otherClass(query);
    if ((query.flags & Flag.RD) === 0) return NO_RECURSION;
    if (inResolverArpa(query.question, query.questionLength - 4)) return this.resolverArpa(query);
    return this.next.resolve(query);
  }

  /** `_dns.resolver.arpa` SVCB: the designated encrypted resolvers; anything else there: no data. */
  private resolverArpa(query: Query): Answer {
    const isDdrName = query.questionLength - 4 === DDR_NAME.length && DDR_NAME.compare(query.question, 0, DDR_NAME.length) === 0;
    return isDdrName && query.qtype === TYPE_SVCB && this.designated !== null ? this.designated : NO_DATA;
  }

  private otherClass(query: Query): Answer {
    const asked = query.qclass === RrClass.CH && (query.qtype === RrType.TXT || query.qtype === TYPE_ANY) && this.identity !== null;
    if (asked && IDENTITY_NAMES.some((name) => name.length === query.questionLength - 4 && name.compare(query.question, 0, name.length) === 0)) {
      return this.identity!;
    }
    return OTHER_CLASS;
  }
}
