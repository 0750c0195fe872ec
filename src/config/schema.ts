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
    instance: Type.String({ description: 'Name of this instance in events (several instances feed one SOC); empty = the host name', default: '' }),
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
        udp_batching: Type.Boolean({
          description:
            'Receive and send UDP in batches (recvmmsg/sendmmsg, Linux, the addon npm ci builds), each worker on a socket of its own, and the upstream sockets too; off, or where the addon is missing: Node dgram, one socket shared by the workers',
          default: true,
        }),
        identity: Type.String({
          description: 'Answer to the CHAOS identity queries (version.bind, hostname.bind, id.server, version.server); empty = REFUSED. Never forwarded',
          maxLength: 255,
          default: '',
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
            message_timeout_ms: Type.Integer({
              description: 'A message begun must arrive whole within this, or the connection is closed (slow senders)',
              minimum: 100,
              maximum: 600_000,
              default: 5000,
            }),
            max_connections_per_client: Type.Integer({
              description: 'Concurrent TCP connections one client address may hold per worker; more are refused at accept',
              minimum: 1,
              maximum: 100_000,
              default: 20,
            }),
            max_unsent_bytes: Type.Integer({
              description: 'Reply bytes a client may leave unread before the connection stops being read, until it reads them',
              minimum: 65_536,
              maximum: 67_108_864,
              default: 262_144,
            }),
          },
          'DNS over TCP',
        ),
      },
      'Listeners and the DNS wire',
    ),
    identity: section(
      {
        static_map: Type.String({
          description:
            'File of "ADDRESS-OR-CIDR DEVICE-ID" lines naming the device behind addresses whose transport names none (sites without RADIUS accounting); reloaded on change; empty = none',
          default: '',
        }),
        radius: section(
          {
            listen: Type.String({
              description: 'HOST:PORT to receive RADIUS accounting (RFC 2866) from the VPN concentrator on (port 1813 when left out); empty = off (flag --radius-acct)',
              default: '',
            }),
            clients: Type.Array(Cidr, { description: 'Concentrators (CIDRs) that may send accounting; datagrams from anyone else are dropped', default: ['127.0.0.0/8', '::1/128'] }),
            secret_file: Type.String({
              description: 'File holding the shared secret (at least 16 characters, surrounding whitespace ignored); empty = the environment variable WACHTPOST_RADIUS_SECRET',
              default: '',
            }),
            identity_attribute: Type.Union(
              [Type.Literal('User-Name'), Type.Literal('Calling-Station-Id'), Type.Literal('Class'), Type.Literal('Chargeable-User-Identity')],
              { description: 'The attribute whose value names the device (lower-cased, other characters than letters and digits become hyphens)', default: 'User-Name' },
            ),
            max_sessions: Type.Integer({
              description: 'Sessions held at most; a new one beyond it pushes out the one that reported longest ago',
              minimum: 1,
              maximum: 10_000_000,
              default: 200_000,
            }),
            follow: Type.Boolean({
              description:
                'With redis.url: take the VPN sessions other instances receive by accounting, without a listener of its own (an instance with a listener always shares and takes them)',
              default: false,
            }),
            session_timeout_s: Type.Integer({
              description: 'A session that sends no Interim-Update or Stop for this long has ended; set it above the concentrator\'s interim interval',
              minimum: 60,
              maximum: 604_800,
              default: 7200,
            }),
          },
          'RADIUS accounting: which device holds which VPN address, as the concentrator reports its sessions',
        ),
      },
      'Who is behind a client address',
    ),
    encrypted: section(
      {
        dot: Type.Array(HostPort, { description: 'Addresses to serve DNS over TLS on (RFC 7858; port 853 by convention)', default: [] }),
        doh: Type.Array(HostPort, { description: 'Addresses to serve DNS over HTTPS on (RFC 8484, HTTP/2 and HTTP/1.1, path /dns-query)', default: [] }),
        tls_cert: Type.String({ description: 'PEM certificate chain for DoT and DoH (reloaded when the file changes)', default: '' }),
        tls_key: Type.String({ description: 'PEM private key of tls_cert (reloaded with it; never logged)', default: '' }),
        server_name: Type.String({
          description:
            'The name devices sit under: SNI "<device>.<server_name>" names the device (Android Private DNS); empty = SNI names no device. The certificate should cover "*.<server_name>"',
          maxLength: 253,
          default: '',
        }),
        client_ca: Type.String({
          description:
            'PEM CA that signs the devices\' client certificates (mTLS): a device presenting one is identified by its subject CN and admitted from any address; empty = no client certificates asked for',
          default: '',
        }),
        unadmitted: Type.Union([Type.Literal('refuse'), Type.Literal('close')], {
          description: 'A client whose address is outside access.allow and whose device is not in access.devices: REFUSED for every query, or the connection closed',
          default: 'refuse',
        }),
        trusted_proxies: Type.Array(Cidr, {
          description: 'Reverse proxies in front of DoH whose X-Forwarded-For / Forwarded header names the client; no one else is believed',
          default: [],
        }),
        max_streams: Type.Integer({ description: 'Concurrent HTTP/2 streams one DoH connection may open', minimum: 1, maximum: 1000, default: 100 }),
      },
      'Encrypted DNS for managed phones: DoT and DoH listeners, device identity',
    ),
    upstream: section(
      {
        servers: Type.Array(
          Type.String({
            description: '"HOST[:PORT]" (plain DNS, port 53), "tls://HOST[:PORT][#NAME]" (DoT, 853) or "https://HOST[:PORT][/PATH][#NAME]" (DoH, 443, /dns-query); NAME is what the certificate is checked against (default: the address)',
            minLength: 1,
          }),
          {
            description: 'Upstream resolvers, tried in order; empty = the nameservers of /etc/resolv.conf',
            default: [],
          },
        ),
        ca_file: Type.String({
          description: 'PEM file of the CA(s) encrypted upstreams\' certificates must chain to; empty = the system store. Verification is never off',
          default: '',
        }),
        timeout_ms: Type.Integer({ description: 'Overall deadline before SERVFAIL', minimum: 100, maximum: 30_000, default: 2000 }),
        attempt_timeout_ms: Type.Integer({
          description: 'How long one attempt has before the next server (or the same one again) is asked too; earlier attempts go on listening until the deadline',
          minimum: 50,
          maximum: 30_000,
          default: 700,
        }),
        failure_memory_ms: Type.Integer({
          description: 'After no server answered a question, how long to serve stale answers at once instead of waiting again (ended early by the next answer; shared between workers)',
          minimum: 0,
          maximum: 600_000,
          default: 5000,
        }),
        randomize_case: Type.Boolean({
          description: 'Send query names in random case (0x20) and accept only answers that echo it; a server that does not is asked without it',
          default: true,
        }),
      },
      'Where questions are forwarded',
    ),
    cache: section(
      {
        shared: Type.Boolean({
          description: 'One cache in memory every worker maps (needs the addon npm ci builds); off, or where the addon is missing: one cache per worker, within the same limits each',
          default: true,
        }),
        max_entries: Type.Integer({ description: 'Answers kept (by the shared cache, or by each worker)', minimum: 0, maximum: 10_000_000, default: 100_000 }),
        max_bytes: Type.Integer({
          description: 'Bytes of 64 KiB slab pages holding the answers (of the shared cache, or of each worker); evicted by CLOCK (an approximation of least recently used)',
          minimum: 1_048_576,
          // A chunk's address is a 32-bit word: 2^19 pages of 64 KiB with offsets in 8-byte units.
          maximum: 34_359_738_368,
          default: 268_435_456,
        }),
        min_ttl: Type.Integer({ description: 'Floor for cached and served TTLs, seconds', minimum: 0, maximum: 86_400, default: 0 }),
        max_ttl: Type.Integer({ description: 'Ceiling for cached and served TTLs, seconds', minimum: 1, maximum: 604_800, default: 86_400 }),
        negative_max_ttl: Type.Integer({ description: 'Ceiling for negative answers (RFC 2308), seconds', minimum: 0, maximum: 86_400, default: 3600 }),
        serve_stale: section(
          {
            enabled: Type.Boolean({ default: true, description: 'Serve expired answers when every upstream fails or is slow (RFC 8767), with Extended DNS Error 3' }),
            max_age_s: Type.Integer({ description: 'How long past expiry an answer may still be served', minimum: 0, maximum: 604_800, default: 86_400 }),
            answer_ttl: Type.Integer({ description: 'TTL of a stale answer', minimum: 1, maximum: 3600, default: 30 }),
            client_timeout_ms: Type.Integer({
              description: 'With a stale answer at hand, how long a client waits for the upstream before getting it (RFC 8767 stale-answer-client-timeout)',
              minimum: 0,
              maximum: 30_000,
              default: 1800,
            }),
          },
          'RFC 8767 serve-stale',
        ),
        prefetch: section(
          {
            enabled: Type.Boolean({ default: true, description: 'Refresh popular entries shortly before they expire' }),
            min_hits: Type.Integer({ description: 'Hits an entry needs to be refreshed', minimum: 1, maximum: 65_535, default: 3 }),
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
        devices: Type.Array(Type.String({ minLength: 1 }), {
          description:
            'Device ids (or patterns with one "*", e.g. "phone-*") served over DoT/DoH from any address: phones off the VPN. Everyone else gets what encrypted.unadmitted says',
          default: [],
        }),
      },
      'Who may use the resolver',
    ),
    rate_limit: section(
      {
        queries_per_second: Type.Number({ description: 'Queries one client address may send per second, sustained; 0 = no limit', minimum: 0, maximum: 1_000_000, default: 100 }),
        burst: Type.Integer({ description: 'Queries one client address may send at once beyond its rate', minimum: 1, maximum: 1_000_000, default: 200 }),
        errors_per_second: Type.Number({
          description: 'Error replies (REFUSED, FORMERR, SERVFAIL…, not policy blocks) one client address may get per second over UDP; more are dropped, so the resolver cannot reflect them at a forged source; 0 = no limit',
          minimum: 0,
          maximum: 1_000_000,
          default: 10,
        }),
        error_burst: Type.Integer({ description: 'Error replies one client address may get at once beyond its rate', minimum: 1, maximum: 1_000_000, default: 20 }),
        action: Type.Union([Type.Literal('refuse'), Type.Literal('drop')], {
          description: 'What a client beyond its query rate gets: REFUSED, or (over UDP) no reply at all; over TCP always REFUSED',
          default: 'refuse',
        }),
        exempt: Type.Array(Cidr, { description: 'Client ranges never limited', default: ['127.0.0.0/8', '::1/128'] }),
      },
      'Per-client rate limits',
    ),
    detection: section(
      {
        enabled: Type.Boolean({
          description: 'false: a plain caching forwarder without canaries, tagging, policy or events; for measuring what detection costs',
          default: true,
        }),
        catalogue: Type.String({
          description: 'Directory of app files (*.yaml), or a signed bundle file that `wachtpost catalogue install` writes; empty = the catalogue shipped in geo/apps',
          default: '',
        }),
        catalogue_keys: Type.Array(Type.String({ minLength: 1 }), {
          description: 'Ed25519 public keys, PEM or base64 DER SubjectPublicKeyInfo (as `wachtpost catalogue bundle` prints them): a bundle must be signed by one',
          default: [],
        }),
        local_rules: Type.String({
          description: "This installation's own apps and extra rules (YAML, see geo/README.md), kept apart from the catalogue so updates never touch them; empty = none",
          default: '',
        }),
        jurisdictions: Type.String({ description: 'Watch-list file; empty = geo/jurisdictions.yaml', default: '' }),
        bypass_endpoints: Type.String({ description: 'Public DNS-over-HTTPS resolvers whose lookup is a bypass attempt; empty = geo/doh-endpoints.yaml', default: '' }),
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
        network_attribution: Type.Union([Type.Literal('tag'), Type.Literal('block')], {
          description:
            "Answers of no catalogued app with an address in a watch-listed owner's own network (attribution network): only tag them, or block them too",
          default: 'tag',
        }),
        groups: Type.Array(
          Type.Object(
            {
              name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' }),
              organisation: Type.String({ minLength: 1 }),
              cidrs: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'VPN address pools; the longest prefix wins' })),
              devices: Type.Optional(
                Type.Array(Type.String({ minLength: 1 }), {
                  minItems: 1,
                  description:
                    'Device ids (from encrypted DNS) or patterns with one "*" (e.g. "insp-*"); a device match wins over an address match. A group needs cidrs, devices or both',
                }),
              ),
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
    http: section(
      {
        listen: Type.String({ description: 'API, feed and dashboard address', minLength: 1, default: '127.0.0.1:8080' }),
        trusted_proxies: Type.Array(Cidr, {
          description:
            'Reverse proxies (CIDR ranges) whose X-Forwarded-For, X-Forwarded-Proto and Forwarded headers are believed: the client address for throttling, and HTTPS for the Secure cookie; empty = none',
          default: [],
        }),
      },
      'HTTP',
    ),
    events: section(
      {
        all_queries: Type.Boolean({ description: 'Publish every answered query, not only tagged, blocked, exempted or flagged ones', default: false }),
        fold_window_ms: Type.Integer({
          description:
            "A device's identical repeats of a query within this window after it are counted into one event (count) instead of one event each; 0 = one event per query",
          minimum: 0,
          maximum: 60_000,
          default: 1000,
        }),
        buffer: Type.Integer({ description: 'Events kept in memory for the live feed and resumes (a ring: the oldest go first)', minimum: 1024, maximum: 4_194_304, default: 65_536 }),
        id_file: Type.String({
          description:
            'Without history: a file that keeps the event id reservation, so ids never repeat across restarts and crashes; empty = ids start at 1 again after every restart. Not used with history (which keeps it) or Redis (which numbers)',
          default: '',
        }),
        residual_window_s: Type.Integer({
          description: 'A device still asking for a blocked app within this window yields one residual event per app per window',
          minimum: 10,
          maximum: 86_400,
          default: 300,
        }),
        canaries: section(
          {
            use_application_dns: Type.Boolean({ description: 'Answer use-application-dns.net with NXDOMAIN so browsers keep using this resolver (Mozilla)', default: true }),
            icloud_private_relay: Type.Boolean({ description: 'Answer mask.icloud.com and mask-h2.icloud.com with NXDOMAIN so iCloud Private Relay stays off (Apple)', default: true }),
          },
          'Canary names that tell devices to keep using the network resolver',
        ),
      },
      'Detection events for the live feed, history and metrics',
    ),
    discovery: section(
      {
        enabled: Type.Boolean({ description: 'Collect names no rule matches that look like an app\'s, as candidates for local rules', default: true }),
        window_ms: Type.Integer({
          description: "A name no rule matches, asked by a device within this long after one of a catalogued app's names, counts as following that app",
          minimum: 100,
          maximum: 60_000,
          default: 3000,
        }),
        capacity: Type.Integer({
          description: 'Candidate names kept; a new one beyond it first evicts the weakest tenth (fewest devices, then queries, then the longest unseen)',
          minimum: 100,
          maximum: 100_000,
          default: 2000,
        }),
      },
      "The discovery queue: names no rule matches that resolve into a watch-listed owner's network or hosting, or follow an app's names",
    ),
    privacy: section(
      {
        pseudonymise: Type.Boolean({ description: 'Publish and store a keyed pseudonym (HMAC-SHA256) instead of the client address', default: false }),
        key_env: Type.String({ description: 'Environment variable holding the pseudonym key (at least 32 characters)', minLength: 1, default: 'WACHTPOST_PSEUDONYM_KEY' }),
      },
      'Client addresses in events, history and logs',
    ),
    history: section(
      {
        path: Type.String({ description: 'SQLite file for event history; empty = keep no history', default: 'wachtpost-history.sqlite' }),
        retention_days: section(
          {
            detection: Type.Integer({ minimum: 1, maximum: 3650, default: 90, description: 'Tagged, blocked and exempted queries' }),
            residual: Type.Integer({ minimum: 1, maximum: 3650, default: 90, description: 'Residual activity of blocked apps' }),
            bypass: Type.Integer({ minimum: 1, maximum: 3650, default: 90, description: 'Lookups of DNS-over-HTTPS and HTTPDNS endpoints' }),
            query: Type.Integer({ minimum: 1, maximum: 3650, default: 7, description: 'Plain queries (events.all_queries)' }),
            audit: Type.Integer({ minimum: 1, maximum: 3650, default: 365, description: 'Pseudonym look-ups by administrators' }),
          },
          'How long each class of event is kept, in days',
        ),
        purge_interval_s: Type.Integer({ description: 'How often expired history is purged', minimum: 10, maximum: 86_400, default: 3600 }),
      },
      'Event history',
    ),
    api: section(
      {
        tokens: Type.Array(
          Type.Object(
            {
              name: Type.String({ minLength: 1, description: 'Who holds the token (shown in audit records, never the token)' }),
              role: Type.Union([Type.Literal('analyst'), Type.Literal('admin')]),
              sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the token, hex (wachtpost token prints both)' }),
            },
            closed,
          ),
          { description: 'API and feed tokens, stored hashed; WACHTPOST_ADMIN_TOKEN adds an admin token from the environment', default: [] },
        ),
        allowed_origins: Type.Array(Type.String({ minLength: 1 }), {
          description: 'Origins besides the server itself whose pages may open the feed (e.g. "https://soc.example.nl")',
          default: [],
        }),
        session_ttl_s: Type.Integer({ description: 'Lifetime of a dashboard sign-in', minimum: 60, maximum: 604_800, default: 43_200 }),
        session_keys_file: Type.String({
          description:
            'Keys that sign dashboard session cookies, one per line: the first signs, all verify (a new first line rotates; removing a line ends its sessions). Created with one random key when missing; instances that share it share sessions. Empty = a key per process start',
          default: 'wachtpost-session.keys',
        }),
      },
      'Authentication of the feed, API and dashboard',
    ),
    siem: section(
      {
        syslog: section(
          {
            target: Type.String({ description: 'HOST:PORT of a syslog receiver (RFC 5424); empty = none', default: '' }),
            protocol: Type.Union([Type.Literal('udp'), Type.Literal('tcp')], { description: 'udp, or tcp with octet-counting framing (RFC 6587)', default: 'udp' }),
            facility: Type.Integer({ description: 'Syslog facility number (16 = local0)', minimum: 0, maximum: 23, default: 16 }),
          },
          'Detections to a syslog receiver',
        ),
        jsonl: section(
          { path: Type.String({ description: 'File that receives one JSON object per detection (ECS field names); empty = none', default: '' }) },
          'Detections to a JSON-lines file',
        ),
        kinds: Type.Array(Type.Union(['detection', 'residual', 'bypass', 'query'].map((kind) => Type.Literal(kind))), {
          description: 'Which event kinds are exported',
          default: ['detection', 'residual', 'bypass'],
        }),
      },
      'Export of detections to a SIEM, in Elastic Common Schema field names',
    ),
    redis: section(
      {
        url: Type.String({ description: 'redis://HOST:PORT of the Redis that joins instances into one feed and history; empty = single node', default: '' }),
        stream: Type.String({ description: 'Stream every instance appends its events to', minLength: 1, default: 'wachtpost:events' }),
        max_len: Type.Integer({ description: 'Approximate cap of the stream length', minimum: 1000, maximum: 100_000_000, default: 1_000_000 }),
        channel: Type.String({ description: 'Pub/sub channel announcing policy changes', minLength: 1, default: 'wachtpost:reload' }),
        buffer: Type.Integer({ description: 'Events held while Redis is unreachable; beyond it the oldest are dropped and counted', minimum: 100, maximum: 10_000_000, default: 100_000 }),
      },
      'Scale-out over Redis (optional)',
    ),
    dnstap: section(
      {
        target: Type.String({
          description: 'Frame Streams receiver of dnstap messages: "unix:PATH" or "tcp:HOST:PORT" (e.g. dnstap -u PATH, fstrm_capture, Vector); empty = off',
          default: '',
        }),
        messages: Type.Array(Type.Union(['client_query', 'client_response', 'resolver_query', 'resolver_response'].map((kind) => Type.Literal(kind))), {
          description: 'Which messages are sent: CLIENT_QUERY/CLIENT_RESPONSE for every reply, RESOLVER_QUERY/RESOLVER_RESPONSE for every upstream attempt',
          uniqueItems: true,
          default: ['client_query', 'client_response', 'resolver_query', 'resolver_response'],
        }),
        identity: Type.String({ description: 'Identity field of every message; empty = the instance name', default: '' }),
        version: Type.String({ description: 'Version field of every message; empty = "wachtpost VERSION"', default: '' }),
        buffer_bytes: Type.Integer({
          description: 'Bytes of messages each worker holds while the receiver is slow or away; beyond it messages are dropped and counted',
          minimum: 65_536,
          maximum: 268_435_456,
          default: 4_194_304,
        }),
      },
      'dnstap output (Frame Streams + protobuf), the DNS telemetry format of Unbound, Knot, BIND and CoreDNS',
    ),
    log: section(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
          { description: 'Log level', default: 'info' },
        ),
        format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], {
          description: 'json: one JSON object per line, ISO timestamps; pretty: human-readable lines; auto: pretty when standard output is a terminal, else json',
          default: 'auto',
        }),
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
