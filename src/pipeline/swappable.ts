/**
 * Data a reload replaces whole (detection data, the compiled policy): the reloader assigns
 * `current` once, and a reader takes `current` once per query and works on that snapshot,
 * so queries in flight finish on the set they started with.
 */
export class Swappable<T> {
  constructor(public current: T) {}
}
