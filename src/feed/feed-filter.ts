import { CLIENT_EXPECTED, DEVICE_EXPECTED_FILTER, normaliseClient, normaliseDevice } from '../events/client-id.js';
import { ATTRIBUTIONS, type DetectionEvent, type EventHosting } from '../events/detection-event.js';
import { FeedError } from './feed-error.js';

/** Values one filter field may list; a longer list is a mistake, not a filter. */
const MAX_VALUES = 64;

interface FieldRule {
  /** What a valid value looks like, for the error message. */
  readonly expects: string;
  /** The value as events carry it, or null when it is not valid. */
  normalise(value: string): string | null;
}

function pattern(regex: RegExp, expects: string): FieldRule {
  return { expects, normalise: (value) => (regex.test(value) ? value : null) };
}

function oneOf(values: readonly string[]): FieldRule {
  const allowed = new Set(values);
  return { expects: `one of ${values.join(', ')}`, normalise: (value) => (allowed.has(value) ? value : null) };
}

const country: FieldRule = {
  expects: 'an ISO 3166-1 alpha-2 country code',
  normalise: (value) => (/^[A-Za-z]{2}$/.test(value) ? value.toUpperCase() : null),
};

/** Addresses are compared in Node's spelling, which is how events carry them. */
const client: FieldRule = { expects: CLIENT_EXPECTED, normalise: normaliseClient };

const FIELDS = {
  app: pattern(/^[a-z0-9][a-z0-9-]*$/, 'an app id (lower-case letters, digits and "-")'),
  action: oneOf(['allow', 'monitor', 'block', 'exempt']),
  kind: oneOf(['detection', 'residual', 'bypass', 'query']),
  group: pattern(/^[A-Za-z0-9_.-]+$/, 'a group name'),
  attribution: oneOf(ATTRIBUTIONS),
  owner_country: country,
  hosting_country: country,
  client,
  device: { expects: DEVICE_EXPECTED_FILTER, normalise: normaliseDevice },
} satisfies Record<string, FieldRule>;

export type FilterField = keyof typeof FIELDS;

/** A validated filter: per field, the values of which an event must carry one. */
export type FilterSpec = { readonly [F in FilterField]?: readonly string[] };

/**
 * Validates filter fields from a query string or a filter message. A value is a comma list
 * or an array of them (repeated query parameters). Throws FeedError('bad_filter').
 */
export function parseFilter(fields: Record<string, unknown>): FilterSpec {
  const spec: { [F in FilterField]?: string[] } = {};
  for (const [name, raw] of Object.entries(fields)) {
    if (!Object.hasOwn(FIELDS, name)) throw new FeedError('bad_filter', `unknown filter field "${name}"`);
    spec[name as FilterField] = valuesOf(name as FilterField, raw);
  }
  return spec;
}

function valuesOf(name: FilterField, raw: unknown): string[] {
  const parts = Array.isArray(raw) ? raw : [raw];
  if (!parts.every((part) => typeof part === 'string')) throw new FeedError('bad_filter', `${name}: must be a comma-separated string or an array of strings`);
  const rule: FieldRule = FIELDS[name];
  const values = new Set<string>();
  for (const value of (parts as string[]).flatMap((part) => part.split(','))) {
    const normalised = rule.normalise(value.trim());
    if (normalised === null) throw new FeedError('bad_filter', `${name}: "${value}" is not ${rule.expects}`);
    values.add(normalised);
  }
  if (values.size === 0) throw new FeedError('bad_filter', `${name}: needs at least one value`);
  if (values.size > MAX_VALUES) throw new FeedError('bad_filter', `${name}: at most ${MAX_VALUES} values`);
  return [...values];
}

function setOf(values: readonly string[] | undefined): ReadonlySet<string> | null {
  return values === undefined ? null : new Set(values);
}

/**
 * A filter compiled once into sets; `matches` reads a few fields and allocates nothing.
 * Fields combine with AND, the values of one field with OR.
 */
export class FeedFilter {
  private readonly apps: ReadonlySet<string> | null;
  private readonly actions: ReadonlySet<string> | null;
  private readonly kinds: ReadonlySet<string> | null;
  private readonly groups: ReadonlySet<string> | null;
  private readonly attributions: ReadonlySet<string> | null;
  private readonly ownerCountries: ReadonlySet<string> | null;
  private readonly hostingCountries: ReadonlySet<string> | null;
  private readonly clients: ReadonlySet<string> | null;
  private readonly devices: ReadonlySet<string> | null;

  constructor(readonly spec: FilterSpec) {
    this.apps = setOf(spec.app);
    this.actions = setOf(spec.action);
    this.kinds = setOf(spec.kind);
    this.groups = setOf(spec.group);
    this.attributions = setOf(spec.attribution);
    this.ownerCountries = setOf(spec.owner_country);
    this.hostingCountries = setOf(spec.hosting_country);
    this.clients = setOf(spec.client);
    this.devices = setOf(spec.device);
  }

  matches(event: DetectionEvent): boolean {
    if (this.kinds !== null && !this.kinds.has(event.kind)) return false;
    if (this.actions !== null && !this.actions.has(event.action)) return false;
    if (this.apps !== null && (event.app === null || !this.apps.has(event.app.id))) return false;
    if (this.ownerCountries !== null && (event.owner === null || !this.ownerCountries.has(event.owner.country))) return false;
    if (this.attributions !== null && (event.attribution === null || !this.attributions.has(event.attribution))) return false;
    if (this.groups !== null && (event.group === null || !this.groups.has(event.group))) return false;
    if (this.clients !== null && !this.clients.has(event.client)) return false;
    if (this.devices !== null && (event.device === null || !this.devices.has(event.device))) return false;
    return this.hostingCountries === null || hostedIn(event.hosting, this.hostingCountries);
  }
}

function hostedIn(hosting: readonly EventHosting[], countries: ReadonlySet<string>): boolean {
  for (const entry of hosting) if (entry.country !== null && countries.has(entry.country)) return true;
  return false;
}
