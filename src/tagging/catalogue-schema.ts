import { Type, type Static } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

const Provenance = {
  source: Type.String({ description: 'Where this was learnt: a public URL (vendor documentation, research, issue thread)', minLength: 8 }),
  verified: Type.String({ description: 'Date it was last checked, YYYY-MM-DD', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
};

const DomainRule = Type.Object(
  { domain: Type.String({ description: 'Matches this name and every name below it, on label boundaries', minLength: 1 }), ...Provenance },
  closed,
);

const PatternRule = Type.Object(
  {
    pattern: Type.String({ description: 'Regular expression over the whole lower-case name, anchored with ^ and $', minLength: 3 }),
    suffix: Type.String({ description: 'Literal domain every matching name ends in: the pattern is only tried below it', minLength: 1 }),
    ...Provenance,
  },
  closed,
);

/** One app of the catalogue: who makes it, under which jurisdiction, and how its traffic is recognised. */
export const AppSchema = Type.Object(
  {
    id: Type.String({ description: 'Stable identifier, lower-case', pattern: '^[a-z0-9][a-z0-9-]*$' }),
    name: Type.String({ minLength: 1 }),
    owner: Type.String({ description: 'Owning company: exactly the name of one entry of the owners file', minLength: 1 }),
    owner_country: Type.String({ description: 'ISO 3166-1 alpha-2 country of the owner', pattern: '^[A-Z]{2}$' }),
    category: Type.Union(
      [
        'social',
        'video',
        'messaging',
        'shopping',
        'payments',
        'finance',
        'search',
        'ai',
        'productivity',
        'travel',
        'maps',
        'news',
        'education',
        'games',
        'browser',
        'government',
        'devices',
        'iot',
        'app-store',
        'security',
        'cloud',
        'other',
      ].map((value) => Type.Literal(value)),
    ),
    rules: Type.Array(Type.Union([DomainRule, PatternRule]), { minItems: 1 }),
    dns_endpoints: Type.Array(
      Type.Object({ host: Type.String({ description: "The vendor's own HTTPDNS or DNS-over-HTTPS host", minLength: 1 }), ...Provenance }, closed),
      { default: [] },
    ),
  },
  closed,
);

export type App = Static<typeof AppSchema>;
export type AppRule = App['rules'][number];
