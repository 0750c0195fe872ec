import { Type, type Static } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

export const AppId = Type.String({ description: 'Stable identifier, lower-case', pattern: '^[a-z0-9][a-z0-9-]*$' });

const Verified = Type.String({ description: 'Date it was last checked, YYYY-MM-DD', pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

const Provenance = {
  source: Type.String({ description: 'Where this was learnt: a public URL (vendor documentation, research, issue thread)', minLength: 8 }),
  verified: Verified,
};

/** What a domain rule says, apart from its provenance; shared with the local rules file. */
export const DomainMatch = {
  domain: Type.String({ description: 'Matches this name and every name below it, on label boundaries', minLength: 1 }),
};

/** What a pattern rule says, apart from its provenance; shared with the local rules file. */
export const PatternMatch = {
  pattern: Type.String({ description: 'Regular expression over the whole lower-case name, anchored with ^ and $', minLength: 3 }),
  suffix: Type.String({ description: 'Literal domain every matching name ends in: the pattern is only tried below it', minLength: 1 }),
};

/** An operator's rule may cite free text ("discovery queue, promoted by alice") rather than a public page. */
export const LocalProvenance = {
  source: Type.String({ description: 'Where this was learnt: a URL, or free text naming who added it and why', minLength: 1 }),
  verified: Verified,
};

/** What an app is for, so policy can block whole categories. */
export const CATEGORIES = [
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
] as const;

/** An app with rules of the given provenance: published apps cite a public page, an operator's own may cite free text. */
function appSchema(provenance: typeof Provenance) {
  return Type.Object(
    {
      id: AppId,
      name: Type.String({ minLength: 1 }),
      owner: Type.String({ description: 'Owning company: exactly the name of one entry of the owners file', minLength: 1 }),
      owner_country: Type.String({ description: 'ISO 3166-1 alpha-2 country of the owner', pattern: '^[A-Z]{2}$' }),
      category: Type.Union(CATEGORIES.map((value) => Type.Literal(value))),
      rules: Type.Array(Type.Union([Type.Object({ ...DomainMatch, ...provenance }, closed), Type.Object({ ...PatternMatch, ...provenance }, closed)]), { minItems: 1 }),
      dns_endpoints: Type.Array(
        Type.Object({ host: Type.String({ description: "The vendor's own HTTPDNS or DNS-over-HTTPS host", minLength: 1 }), ...provenance }, closed),
        { default: [] },
      ),
    },
    closed,
  );
}

/** One app of the catalogue: who makes it, under which jurisdiction, and how its traffic is recognised. */
export const AppSchema = appSchema(Provenance);

/** One of the operator's own apps in the local rules file. */
export const LocalAppSchema = appSchema(LocalProvenance);

export type App = Static<typeof AppSchema>;
export type AppRule = App['rules'][number];
