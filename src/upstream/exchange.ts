import type { Answer } from '../wire/answer.js';

/** What an answer must match to be accepted (RFC 5452 §9.1): our ID and our exact question. */
export interface Expected {
  id: number;
  /** Lower-cased question as sent: name, type, class. */
  question: Buffer;
  questionLength: number;
  /** UDP size written into the OPT record of the stored answer. */
  udpSize: number;
}

/** The upstream said TC=1: the same server is asked again over TCP. */
export const TRUNCATED = Symbol('truncated');
export type ExchangeResult = Answer | typeof TRUNCATED;

/** One attempt did not produce an acceptable answer in time. */
export class ExchangeTimeout extends Error {
  override readonly name = 'ExchangeTimeout';
}

/** Counts of answers thrown away; spoofing attempts show up here. */
export class ExchangeCounters {
  rejectedId = 0;
  rejectedQuestion = 0;
  rejectedMalformed = 0;
  rejectedSource = 0;
}
