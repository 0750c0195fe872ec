export type ErrorCode = 'bad_filter' | 'bad_resume' | 'bad_message';

/** Something a client asked for that cannot be done: an error message, or a 400 at connect. */
export class FeedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
