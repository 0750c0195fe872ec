/** Counts of answers thrown away; spoofing attempts show up here. */
export class ExchangeCounters {
  rejectedId = 0;
  rejectedQuestion = 0;
  /** Our question in another case than we sent it (0x20). */
  rejectedCase = 0;
  rejectedMalformed = 0;
  rejectedSource = 0;
}
