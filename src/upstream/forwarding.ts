import { performance } from 'node:perf_hooks';
import type { Query } from '../pipeline/query.js';
import { AnswerKind, type Answer } from '../wire/answer.js';
import { HEADER_LENGTH } from '../wire/constants.js';
import { buildUpstreamQuery } from '../wire/upstream-query.js';
import { UpstreamFailure } from './errors.js';
import type { ExchangeCounters } from './exchange-counters.js';
import type { Attempt, AttemptHandler, Expected } from './exchange.js';
import { failureCause, type ExchangeObserver } from './exchange-observer.js';
import { randomizeCase, randomQueryId } from './random-id.js';
import { EncryptedAttempt } from './channel-attempt.js';
import { TcpAttempt } from './tcp-exchange.js';
import { UdpAttempt } from './udp-exchange.js';
import type { UpstreamServer } from './upstream-server.js';

export interface ForwardSettings {
  /** Overall deadline: past it the client gets SERVFAIL (or a stale answer). */
  timeoutMs: number;
  /** How long one attempt has before the next server (or the same one again) is asked too. */
  attemptTimeoutMs: number;
  udpSize: number;
  /** Send names in random case (0x20) to servers known to echo it. */
  randomizeCase: boolean;
}

/** What forwarding counts beyond the exchanges' rejections. */
export class ForwardCounters {
  /** Answers that came from an earlier attempt after a later one had been sent. */
  lateAnswers = 0;
  /** Servers found not to echo 0x20 case, asked again without it. */
  caseFallbacks = 0;
}

/**
 * One question on its way upstream. Attempts go out one attempt timeout apart, rotating
 * through the servers in the order given (fresh ID, fresh socket, fresh case pattern each),
 * and every attempt keeps listening until the overall deadline: the first acceptable answer
 * from any of them wins, so an upstream slower than one attempt timeout still answers.
 * A server that fails outright (a refused port) hands over at once; SERVFAIL or REFUSED
 * from one server is asked of each other server once; a truncated answer is fetched again
 * over TCP from the same server. When an answer echoes our mixed-case name in another case,
 * the same server is asked once more without 0x20, and a server that then answers is asked
 * without it for a while (UpstreamServer.lostCase).
 */
export class Forwarding implements AttemptHandler {
  readonly answer: Promise<Answer>;
  private resolveAnswer!: (answer: Answer) => void;
  private rejectAnswer!: (error: Error) => void;
  private readonly open: Attempt[] = [];
  private readonly refusedBy = new Set<UpstreamServer>();
  private readonly deadline: number;
  private readonly deadlineTimer: NodeJS.Timeout;
  private nextTimer: NodeJS.Timeout | null = null;
  private readonly maxAttempts: number;
  private sent = 0;
  private latest: Attempt | null = null;
  private settled = false;
  private lastRefusal: Answer | null = null;
  private lastError: Error | null = null;
  /** The server whose answer did not echo our case, once it has been asked again without 0x20. */
  private caseRetriedOn: UpstreamServer | null = null;

  constructor(
    private readonly query: Query,
    private readonly servers: readonly UpstreamServer[],
    private readonly settings: ForwardSettings,
    private readonly counters: ExchangeCounters,
    private readonly forwardCounters: ForwardCounters,
    /** Told of every attempt: per-server metrics, upstream health, dnstap. */
    private readonly observer: ExchangeObserver | null,
  ) {
    this.answer = new Promise((resolve, reject) => {
      this.resolveAnswer = resolve;
      this.rejectAnswer = reject;
    });
    this.maxAttempts = Math.max(3, servers.length * 2);
    this.deadline = Date.now() + settings.timeoutMs;
    this.deadlineTimer = setTimeout(() => this.giveUp(), settings.timeoutMs);
    this.next();
  }

  answered(attempt: Attempt, answer: Answer): void {
    this.forget(attempt);
    if (this.settled) return;
    const server = attempt.server;
    const elapsed = performance.now() - attempt.sentAt;
    server.recordSuccess(elapsed);
    this.observer?.answered(server, attempt instanceof TcpAttempt ? 'tcp' : (server.channel?.protocol ?? 'udp'), answer, elapsed / 1000);
    if (attempt !== this.latest && !(attempt instanceof TcpAttempt)) this.forwardCounters.lateAnswers++;
    if (server === this.caseRetriedOn && !attempt.expected.exactCase) {
      server.lostCase(Date.now());
      this.forwardCounters.caseFallbacks++;
    }
    if (answer.kind === AnswerKind.UNCACHEABLE) {
      this.refusedBy.add(server);
      if (this.refusedBy.size < this.servers.length) {
        this.lastRefusal = answer;
        this.next();
        return;
      }
    }
    this.settle(answer, null);
  }

  truncated(attempt: Attempt): void {
    this.forget(attempt);
    if (this.settled) return;
    this.observer?.asked(attempt.server, 'tcp', attempt.query);
    this.open.push(new TcpAttempt(attempt.server, attempt.query, attempt.expected, this.counters, this));
  }

  failed(attempt: Attempt, error: Error): void {
    this.forget(attempt);
    if (this.settled) return;
    attempt.server.recordFailure(Date.now());
    if (this.observer !== null) {
      const { cause, detail } = failureCause(error);
      this.observer.failed(attempt.server, cause, detail);
    }
    this.lastError = error;
    // Nothing else is listening: the next attempt need not wait for its turn.
    if (this.open.length === 0) this.next();
  }

  caseMismatch(attempt: Attempt): void {
    if (this.settled || this.caseRetriedOn !== null) return;
    this.caseRetriedOn = attempt.server;
    // The retry, not the attempt that drew the mismatch, is now the one expected to answer.
    this.latest = this.send(attempt.server, false);
  }

  /** Sends the next attempt in rotation, and times the one after it. */
  private next(): void {
    if (this.nextTimer !== null) clearTimeout(this.nextTimer);
    this.nextTimer = null;
    const remaining = this.deadline - Date.now();
    if (this.sent >= this.maxAttempts || remaining <= 0) {
      if (this.open.length === 0) this.giveUp();
      return;
    }
    const count = this.servers.length;
    let server = this.servers[this.sent % count]!;
    // A server that answered SERVFAIL or REFUSED is not asked again while others are untried.
    for (let i = 1; this.refusedBy.has(server) && i < count; i++) server = this.servers[(this.sent + i) % count]!;
    this.sent++;
    // 0x20 is for off-path forgery, which a TLS connection already rules out.
    const attempt = this.send(server, this.settings.randomizeCase && server.channel === null && server.keepsCase(Date.now()));
    this.latest = attempt;
    this.nextTimer = setTimeout(() => {
      this.nextTimer = null;
      if (this.open.includes(attempt)) {
        attempt.server.recordFailure(Date.now());
        // It keeps listening, but it missed its turn: a timeout for that server.
        this.observer?.failed(attempt.server, 'timeout', `no answer within ${this.settings.attemptTimeoutMs} ms`);
      }
      this.next();
    }, Math.min(this.settings.attemptTimeoutMs, remaining));
  }

  private send(server: UpstreamServer, mixedCase: boolean): Attempt {
    const { query, settings } = this;
    const id = randomQueryId();
    const wire = buildUpstreamQuery(query, id, settings.udpSize);
    if (mixedCase) randomizeCase(wire, HEADER_LENGTH);
    const expected: Expected = {
      id,
      question: wire.subarray(HEADER_LENGTH, HEADER_LENGTH + query.questionLength),
      questionLength: query.questionLength,
      exactCase: mixedCase,
      udpSize: settings.udpSize,
    };
    const channel = server.channel;
    this.observer?.asked(server, channel?.protocol ?? 'udp', wire);
    const attempt: Attempt =
      channel === null ? new UdpAttempt(server, wire, expected, this.counters, this) : new EncryptedAttempt(server, wire, expected, this.counters, this);
    this.open.push(attempt);
    return attempt;
  }

  private forget(attempt: Attempt): void {
    const at = this.open.indexOf(attempt);
    if (at >= 0) this.open.splice(at, 1);
  }

  private giveUp(): void {
    if (this.settled) return;
    if (this.lastRefusal !== null) return this.settle(this.lastRefusal, null);
    const reason = this.lastError?.message ?? 'deadline passed';
    this.settle(null, new UpstreamFailure(`no upstream answered within ${this.settings.timeoutMs} ms (${reason})`));
  }

  private settle(answer: Answer | null, error: Error | null): void {
    this.settled = true;
    clearTimeout(this.deadlineTimer);
    if (this.nextTimer !== null) clearTimeout(this.nextTimer);
    for (const attempt of this.open.splice(0)) attempt.close();
    if (answer !== null) this.resolveAnswer(answer);
    else this.rejectAnswer(error!);
  }
}
