import type { Registry } from 'prom-client';
import type { DetectionCounter } from '../events/event-recorder.js';
import { ACTIONS } from '../pipeline/action.js';
import { collectedCounter } from './collected-counter.js';

/** Distinct app ids counted under their own label; any further ones count as app "other". */
export const MAX_APP_SERIES = 500;
const OTHER = 'other';

class AppCounts {
  readonly byAction = new Float64Array(ACTIONS.length);
  constructor(public ownerCountry: string) {}
}

/**
 * Detections of catalogued apps by app, owner country and action, counted as the worker's
 * event recorder records them (before repeats are folded, so every query counts). Labels
 * are bounded: app ids come from the catalogue, and past MAX_APP_SERIES distinct ids the
 * rest share app="other".
 */
export class DetectionCounts implements DetectionCounter {
  private readonly apps = new Map<string, AppCounts>();

  count(app: { readonly id: string; readonly owner_country: string }, actionIndex: number): void {
    let counts = this.apps.get(app.id);
    if (counts === undefined) {
      const full = this.apps.size >= MAX_APP_SERIES;
      counts = full ? this.apps.get(OTHER) : undefined;
      if (counts === undefined) {
        counts = new AppCounts(full ? OTHER : app.owner_country);
        this.apps.set(full ? OTHER : app.id, counts);
      }
    } else if (counts.ownerCountry !== app.owner_country && counts.ownerCountry !== OTHER) {
      counts.ownerCountry = app.owner_country; // the catalogue moved the owner
    }
    counts.byAction[actionIndex]!++;
  }

  register(registry: Registry): void {
    const apps = this.apps;
    collectedCounter(
      registry,
      'wachtpost_detections_total',
      'Queries for catalogued apps, by app id, owner country and policy action (every query, repeats included)',
      ['app', 'owner_country', 'action'],
      (metric) => {
        for (const [app, counts] of apps) {
          ACTIONS.forEach((action, i) => counts.byAction[i]! > 0 && metric.inc({ app, owner_country: counts.ownerCountry, action }, counts.byAction[i]!));
        }
      },
    );
  }
}
