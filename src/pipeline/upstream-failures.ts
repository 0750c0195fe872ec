/**
 * What the cache needs to know of the upstream: whether it failed to answer very recently,
 * in which case a stale answer is served at once rather than after waiting for it again.
 */
export interface UpstreamFailures {
  failedRecently(now: number): boolean;
}
