import type { Logger } from 'pino';
import { DnsError } from '../pipeline/dns-error.js';
import type { InPlaceReplies, Query } from '../pipeline/query.js';
import { AnswerKind, type Answer } from '../wire/answer.js';
import { EdeCode, Rcode } from '../wire/constants.js';
import { ReadResult } from '../wire/request.js';
import type { ReplyWriter } from '../wire/reply.js';

const TCP_MAX_MESSAGE = 65_535;
const INTERNAL_ERROR_TEXT = Buffer.from('internal error');

/** Replies sent, by rcode; read by the metrics layer. */
export class ReplyCounters {
  readonly byRcode = new Float64Array(24);
  dropped = 0;
  internalErrors = 0;
}

/**
 * Whether a client may get one more error reply (anything but NOERROR and NXDOMAIN) over
 * UDP, where its address may be forged: without a limit, the resolver would reflect REFUSED
 * at whoever a flood names as its source.
 */
export interface ErrorReplyLimit {
  admits(client: string): boolean;
}

/** Told of every answer after it was sent (event recording, metrics). Must not throw. */
export interface AnswerObserver {
  answered(query: Query, answer: Answer): void;
}

/**
 * Told of every reply sent, answers and errors alike, with its bytes: `length` from `start`
 * of `bytes`, which may be a send slot reused by the next reply (answer latency, dnstap).
 * Runs after the send, on the hot path; must not throw.
 */
export interface ReplyObserver {
  replied(query: Query, bytes: Buffer, start: number, length: number): void;
}

/**
 * The one place where an outcome becomes bytes on the wire: answers, typed failures and
 * rejected requests are each mapped to a reply here, so stages never write to sockets.
 */
export class Responder {
  readonly counters = new ReplyCounters();

  constructor(
    private readonly writer: ReplyWriter,
    private readonly log: Logger,
    private readonly observers: readonly AnswerObserver[] = [],
    private readonly replyObservers: readonly ReplyObserver[] = [],
    private readonly errorLimit: ErrorReplyLimit | null = null,
  ) {}

  answer(query: Query, answer: Answer): void {
    const channel = query.channel;
    if (channel === null) return;
    if (answer.kind === AnswerKind.DROP && channel.protocol === 'udp') return;
    const rcode = answer.rcode;
    // Policy blocks are answers the client's query rate already limits.
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN && answer.kind !== AnswerKind.BLOCKED && !this.errorAdmitted(query)) return;
    const maxLength = channel.protocol === 'udp' ? this.writer.udpLimit(query) : TCP_MAX_MESSAGE;
    const age = query.cacheAge < 0 ? 0 : query.cacheAge;
    this.counters.byRcode[answer.rcode < 24 ? answer.rcode : 0]!++;
    const slots = channel.inPlace;
    if (slots === undefined || !this.sendInPlace(query, answer, age, maxLength, slots)) {
      const reply = this.writer.write(query, answer, age, query.fixedTtl, maxLength);
      channel.send(query, reply);
      this.tellReplied(query, reply, 0, reply.length);
    }
    for (let i = 0; i < this.observers.length; i++) this.observers[i]!.answered(query, answer);
  }

  /** Writes the reply straight into a send slot of the channel: false when none is free or the reply does not fit one. */
  private sendInPlace(query: Query, answer: Answer, age: number, maxLength: number, slots: InPlaceReplies): boolean {
    const at = slots.reserve(query);
    if (at < 0) return false;
    const length = this.writer.writeInto(query, answer, age, query.fixedTtl, maxLength, slots.buffer, at, slots.room);
    if (length < 0) return false;
    slots.commit(query, length);
    this.tellReplied(query, slots.buffer, at, length);
    return true;
  }

  /**
   * A stage threw: a DnsError carries the rcode and Extended DNS Error the client gets;
   * anything else is a bug, logged and answered SERVFAIL.
   */
  fail(query: Query, error: unknown): void {
    if (error instanceof DnsError) return this.sendSynthetic(query, error.rcode, error.ede, error.edeText);
    this.counters.internalErrors++;
    this.log.error({ err: error, qtype: query.qtype }, 'query failed inside the resolver');
    this.sendSynthetic(query, Rcode.SERVFAIL, EdeCode.OTHER, INTERNAL_ERROR_TEXT);
  }

  /** A request the reader turned down: FORMERR, NOTIMP, BADVERS, REFUSED, or silence. */
  reject(query: Query, result: ReadResult): void {
    switch (result) {
      case ReadResult.FORMERR:
        return this.sendSynthetic(query, Rcode.FORMERR, -1, null);
      case ReadResult.NOTIMP:
        return this.sendSynthetic(query, Rcode.NOTIMP, -1, null);
      case ReadResult.BADVERS:
        return this.sendSynthetic(query, Rcode.BADVERS, -1, null);
      case ReadResult.REFUSED:
        return this.sendSynthetic(query, Rcode.REFUSED, EdeCode.NOT_SUPPORTED, null);
      default:
        this.counters.dropped++;
    }
  }

  /** Error replies over UDP within the client's error rate (see ErrorReplyLimit). */
  private errorAdmitted(query: Query): boolean {
    return this.errorLimit === null || query.channel!.protocol !== 'udp' || this.errorLimit.admits(query.client);
  }

  private sendSynthetic(query: Query, rcode: number, ede: number, text: Buffer | null): void {
    const channel = query.channel;
    if (channel === null || !this.errorAdmitted(query)) return;
    this.counters.byRcode[rcode]!++;
    const reply = this.writer.synthetic(query, rcode, 0, ede, text);
    channel.send(query, reply);
    this.tellReplied(query, reply, 0, reply.length);
  }

  private tellReplied(query: Query, bytes: Buffer, start: number, length: number): void {
    for (let i = 0; i < this.replyObservers.length; i++) this.replyObservers[i]!.replied(query, bytes, start, length);
  }
}
