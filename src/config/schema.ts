import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The configuration schema: one source for the TypeScript type (Static), the validator
 * (ajv) and the published JSON Schema (deploy/wachtpost.schema.json). Every object is
 * closed (`additionalProperties: false`) so a misspelt key is an error, not a silent default.
 */
const closed = { additionalProperties: false } as const;

/** An object whose missing value defaults to the defaults of its properties. */
function section<T extends Record<string, TSchema>>(properties: T, description: string) {
  return Type.Object(properties, { ...closed, description, default: {} });
}

const HostPort = Type.String({ description: 'IP address and port, e.g. "127.0.0.1:5353" or "[::1]:5353"', minLength: 1 });
const Cidr = Type.String({ description: 'Address range in CIDR notation, e.g. "10.64.0.0/10"', minLength: 1 });

export const ConfigSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('monitor'), Type.Literal('enforce')], {
      description: 'monitor: tag only; enforce: also block what policy says',
      default: 'monitor',
    }),
    dns: section(
      {
        listen: Type.Array(HostPort, {
          description: 'Addresses to serve DNS on, UDP and TCP on each',
          minItems: 1,
          default: ['127.0.0.1:5353'],
        }),
        workers: Type.Integer({ description: 'Worker processes sharing the DNS ports; 0 = one per CPU core', minimum: 0, maximum: 256, default: 0 }),
        udp_size: Type.Integer({
          description: 'EDNS0 UDP size advertised up- and downstream, and the most sent over UDP',
          minimum: 512,
          maximum: 4096,
          default: 1232,
        }),
        drain_timeout_ms: Type.Integer({ description: 'On SIGTERM, how long in-flight queries may finish', minimum: 0, maximum: 60_000, default: 5000 }),
        tcp: section(
          {
            idle_timeout_ms: Type.Integer({ description: 'Close a connection idle this long (RFC 7766)', minimum: 100, maximum: 600_000, default: 10_000 }),
            max_connections: Type.Integer({ description: 'Concurrent TCP connections per worker', minimum: 1, maximum: 100_000, default: 1000 }),
            max_in_flight_per_connection: Type.Integer({
              description: 'Queries one connection may have outstanding before reading pauses',
              minimum: 1,
              maximum: 10_000,
              default: 100,
            }),
          },
          'DNS over TCP',
        ),
      },
      'Listeners and the DNS wire',
    ),
    upstream: section(
      {
        servers: Type.Array(Type.String({ description: '"HOST" or "HOST:PORT" (port 53 by default)', minLength: 1 }), {
          description: 'Upstream resolvers, tried in order; empty = the nameservers of /etc/resolv.conf',
          default: [],
        }),
        timeout_ms: Type.Integer({ description: 'Overall deadline before SERVFAIL', minimum: 100, maximum: 30_000, default: 2000 }),
        attempt_timeout_ms: Type.Integer({
          description: 'How long one attempt waits before the next server is tried',
          minimum: 50,
          maximum: 30_000,
          default: 700,
        }),
      },
      'Where questions are forwarded',
    ),
    cache: section(
      {
        max_entries: Type.Integer({ description: 'Answers kept per worker', minimum: 0, maximum: 10_000_000, default: 100_000 }),
        min_ttl: Type.Integer({ description: 'Floor for cached and served TTLs, seconds', minimum: 0, maximum: 86_400, default: 0 }),
        max_ttl: Type.Integer({ description: 'Ceiling for cached and served TTLs, seconds', minimum: 1, maximum: 604_800, default: 86_400 }),
        negative_max_ttl: Type.Integer({ description: 'Ceiling for negative answers (RFC 2308), seconds', minimum: 0, maximum: 86_400, default: 3600 }),
        serve_stale: section(
          {
            enabled: Type.Boolean({ default: true, description: 'Serve expired answers when every upstream fails (RFC 8767)' }),
            max_age_s: Type.Integer({ description: 'How long past expiry an answer may still be served', minimum: 0, maximum: 604_800, default: 86_400 }),
            answer_ttl: Type.Integer({ description: 'TTL of a stale answer', minimum: 1, maximum: 3600, default: 30 }),
          },
          'RFC 8767 serve-stale',
        ),
        prefetch: section(
          {
            enabled: Type.Boolean({ default: true, description: 'Refresh popular entries shortly before they expire' }),
            min_hits: Type.Integer({ description: 'Hits an entry needs to be refreshed', minimum: 1, maximum: 1_000_000, default: 3 }),
            remaining_ratio: Type.Number({ description: 'Refresh when less than this share of the TTL remains', minimum: 0, maximum: 1, default: 0.1 }),
          },
          'Prefetch of popular entries',
        ),
      },
      'Answer cache',
    ),
    access: section(
      {
        allow: Type.Array(Cidr, { description: 'Client ranges served; everyone else gets REFUSED', default: ['127.0.0.0/8', '::1/128'] }),
      },
      'Who may use the resolver',
    ),
    detection: section(
      {
        catalogue: Type.String({ description: 'Directory of app files (*.yaml); empty = the catalogue shipped in geo/apps', default: '' }),
        jurisdictions: Type.String({ description: 'Watch-list file; empty = geo/jurisdictions.yaml', default: '' }),
        geoip: section(
          {
            country: Type.String({ description: 'Country MMDB (ip-location-db or MaxMind GeoLite2/GeoIP2 Country); empty = the bundled one', default: '' }),
            asn: Type.String({ description: 'ASN MMDB (MaxMind GeoLite2/GeoIP2 ASN layout); empty = geo/asn.mmdb built at install', default: '' }),
          },
          'Where answer addresses are looked up',
        ),
      },
      'App detection',
    ),
    policy: section(
      {
        block_answer: Type.Union([Type.Literal('nxdomain'), Type.Literal('null'), Type.Literal('refused'), Type.Literal('sinkhole')], {
          description:
            'How a blocked query is answered: NXDOMAIN with a SOA, 0.0.0.0/:: (NODATA for other types), REFUSED, or the sinkhole addresses, where a notice page explains the block',
          default: 'nxdomain',
        }),
        sinkhole: section(
          {
            ipv4: Type.String({ description: 'Address given for blocked A queries (block_answer: sinkhole)', default: '' }),
            ipv6: Type.String({ description: 'Address given for blocked AAAA queries; empty = NODATA', default: '' }),
            listen: Type.String({ description: 'HOST:PORT where the notice page is served (plain HTTP); empty = none', default: '' }),
          },
          'The sinkhole that blocked apps are pointed at',
        ),
        block_ttl: Type.Integer({ description: 'TTL of block answers (and of their SOA for negative caching)', minimum: 0, maximum: 86_400, default: 60 }),
        block_watchlisted_owners: Type.Boolean({ description: 'Block every app whose owner sits in a watch-listed jurisdiction', default: true }),
        block_apps: Type.Array(Type.String({ minLength: 1 }), { description: 'Further app ids to block', default: [] }),
        block_categories: Type.Array(Type.String({ minLength: 1 }), { description: 'App categories to block', default: [] }),
        hosting: Type.Union([Type.Literal('tag'), Type.Literal('block')], {
          description: 'Answers hosted in a watch-listed jurisdiction: only tag them, or block them too',
          default: 'tag',
        }),
        groups: Type.Array(
          Type.Object(
            {
              name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' }),
              organisation: Type.String({ minLength: 1 }),
              cidrs: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'VPN address pools; the longest prefix wins' }),
              mode: Type.Optional(Type.Union([Type.Literal('monitor'), Type.Literal('enforce')])),
              managed_apps: Type.Optional(
                Type.Array(Type.String({ minLength: 1 }), { description: 'Managed-device mode: only these catalogued apps pass; every other one is blocked' }),
              ),
            },
            closed,
          ),
          { default: [] },
        ),
        exemptions: Type.Array(
          Type.Object(
            {
              id: Type.String({ minLength: 1 }),
              group: Type.String({ minLength: 1 }),
              apps: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
              legal_basis: Type.Union(['inspection', 'investigation', 'intelligence', 'other'].map((value) => Type.Literal(value))),
              reason: Type.String({ minLength: 1 }),
              approved_by: Type.String({ minLength: 1 }),
              expires: Type.String({ description: 'Last day it applies, YYYY-MM-DD (UTC)', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
            },
            closed,
          ),
          { default: [] },
        ),
      },
      'What enforce mode blocks, for whom, and who is exempt',
    ),
    http: section({ listen: Type.String({ description: 'API, feed and dashboard address', minLength: 1, default: '127.0.0.1:8080' }) }, 'HTTP'),
    log: section(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
          { description: 'Log level', default: 'info' },
        ),
      },
      'Logging',
    ),
  },
  {
    ...closed,
    $id: 'https://wachtpost.invalid/schema/wachtpost.schema.json',
    title: 'Wachtpost configuration',
  },
);

export type Config = Static<typeof ConfigSchema>;
