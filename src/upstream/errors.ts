/** Every upstream attempt failed or the deadline passed: the client gets SERVFAIL (or stale data). */
export class UpstreamFailure extends Error {
  override readonly name = 'UpstreamFailure';
}

/** More upstream exchanges in flight than this worker allows: shed load instead of queueing. */
export class UpstreamOverloaded extends UpstreamFailure {}
