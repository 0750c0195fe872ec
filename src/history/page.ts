/** One page of rows, newest first, and the cursor for the next (older) page. */
export interface Page<T> {
  items: T[];
  /** Pass as `before_id` to get the next page; null when this was the last. */
  next_before_id: number | null;
}

/** Rows must have been fetched with `LIMIT limit + 1`: the extra row only says that more exist. */
export function pageOf<T extends { id: number }>(rows: T[], limit: number): Page<T> {
  if (rows.length <= limit) return { items: rows, next_before_id: null };
  const items = rows.slice(0, limit);
  return { items, next_before_id: items[items.length - 1]!.id };
}
