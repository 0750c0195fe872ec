import { Type, type Static } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;

const OwnerNetwork = Type.Object(
  {
    asn: Type.Integer({ minimum: 1, maximum: 4_294_967_295 }),
    name: Type.String({ description: 'The AS name as registered', minLength: 1 }),
    source: Type.String({ description: 'Public page attesting that the owner operates this AS (RIR whois, PeeringDB, vendor page)', minLength: 8 }),
    verified: Type.String({ description: 'Date it was last checked, YYYY-MM-DD', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
  },
  closed,
);

/** A company that owns catalogued apps: where control sits, and the networks it runs itself. */
export const OwnerSchema = Type.Object(
  {
    name: Type.String({ description: 'Exactly the string the apps use in `owner`', minLength: 1 }),
    country: Type.String({ description: 'ISO 3166-1 alpha-2 country of the operating parent, where control sits', pattern: '^[A-Z]{2}$' }),
    aliases: Type.Array(Type.String({ minLength: 1 }), { description: 'Other legal or trading names', default: [] }),
    note: Type.Optional(Type.String({ description: 'Why this country, for owners whose registration and control differ', minLength: 1 })),
    asns: Type.Array(OwnerNetwork, { default: [] }),
  },
  closed,
);

export const OwnersFileSchema = Type.Object({ owners: Type.Array(OwnerSchema, { minItems: 1 }) }, closed);

export type Owner = Static<typeof OwnerSchema>;
export type OwnerNetwork = Owner['asns'][number];
