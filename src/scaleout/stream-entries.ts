import type { DetectionEvent } from '../events/detection-event.js';

/** A stream entry as ioredis returns it: [entry id, [field, value, field, value, …]]. */
export type StreamEntry = [string, string[]];

/** The event an entry carries, with its cluster-wide id; null for an entry that is not ours. */
export function eventOf(entry: StreamEntry): DetectionEvent | null {
  const fields = entry[1];
  let id = NaN;
  let text: string | null = null;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'id') id = Number(fields[i + 1]);
    else if (fields[i] === 'e') text = fields[i + 1]!;
  }
  if (!Number.isSafeInteger(id) || id <= 0 || text === null) return null;
  try {
    const event = JSON.parse(text) as DetectionEvent;
    event.id = id;
    // Written by an instance from before repeats were folded: each event was one query.
    event.count ??= 1;
    // From before network attribution: an app was the only way to an owner.
    event.attribution ??= event.app === null ? null : 'name';
    event.owner ??= event.app === null ? null : { name: event.app.owner, country: event.app.owner_country };
    return event;
  } catch {
    return null;
  }
}
