import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CANDIDATE_REASONS, type CandidateReason, type CandidateView } from '../discovery/discovery-queue.js';
import { COMMON_ERRORS, decimalIntegers, ErrorSchema, Limit, noStore, nullable, stringEnum, type ApiError } from './api-common.js';
import type { RoleGuards } from './auth.js';

/** A rule a promotion appended to the local rules file. */
export interface PromotedRule {
  app: string;
  domain: string;
  source: string;
  verified: string;
}

/** What promoting a candidate came to: the rule written, or why none was. */
export type PromoteOutcome =
  | { readonly ok: true; readonly rule: PromotedRule; readonly file: string }
  | { readonly ok: false; readonly error: 'unknown_candidate' | 'no_local_rules' | 'rule_refused'; readonly message: string };

/** What the discovery routes need of the node (server/discovery-service.ts). */
export interface DiscoveryApi {
  list(limit: number, reason?: CandidateReason): { candidates: CandidateView[]; size: number; capacity: number; evicted: number; overflow: number };
  dismiss(name: string, by: string): boolean;
  promote(name: string, app: string, reason: string, by: string): PromoteOutcome;
}

export interface DiscoveryRouteOptions {
  /** Null when discovery (or detection) is switched off on this node. */
  readonly discovery: DiscoveryApi | null;
  readonly guards: RoleGuards;
}

const HostName = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: '^[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})+\\.?$',
  description: 'A candidate name, as listed',
});
const NameParams = Type.Object({ name: HostName }, { additionalProperties: false });
type NameParams = Static<typeof NameParams>;

const ListQuery = Type.Object(
  { limit: Type.Optional(Limit), reason: Type.Optional(stringEnum(CANDIDATE_REASONS, { description: 'Only candidates with this evidence' })) },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const PromoteBody = Type.Object(
  {
    app: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64, description: 'Id of the app (catalogue or local rules file) the name belongs to' }),
    reason: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', description: 'Why: written into the rule as its source, with who promoted it' }),
  },
  { additionalProperties: false },
);
type PromoteBody = Static<typeof PromoteBody>;

const Evidence = {
  network: nullable(
    Type.Object(
      { owner: Type.String(), country: Type.String(), asn: nullable(Type.Integer()) },
      { description: "The watch-listed owner whose own network the name resolved into (last seen)" },
    ),
  ),
  hosting: Type.Array(Type.Object({ country: Type.String(), asn: nullable(Type.Integer()) }), { description: 'Watch-listed countries and ASes its addresses were hosted in' }),
  follows: Type.Array(Type.Object({ app: Type.String(), count: Type.Integer() }), {
    description: "Catalogued apps whose names devices asked within discovery.window_ms before it, most often first",
  }),
};

const CandidateSchema = Type.Object({
  name: Type.String(),
  reasons: Type.Array(stringEnum(CANDIDATE_REASONS)),
  queries: Type.Integer({ description: 'Queries counted' }),
  devices: Type.Integer({ description: 'Distinct devices, counted up to 64' }),
  example_devices: Type.Array(Type.String(), { description: 'Pseudonyms of a few of them, only when privacy.pseudonymise is on: addresses are never shown' }),
  first_seen: Type.Number({ description: 'Epoch ms' }),
  last_seen: Type.Number({ description: 'Epoch ms' }),
  ...Evidence,
});

const ListSchema = Type.Object({
  candidates: Type.Array(CandidateSchema, { description: 'Strongest first: most devices, then queries, then the most recent' }),
  size: Type.Integer({ description: 'Candidates held' }),
  capacity: Type.Integer({ description: 'discovery.capacity' }),
  evicted: Type.Integer({ description: 'Candidates evicted to make room since start' }),
  overflow: Type.Integer({ description: "Names workers could not count because their interval's table was full, since start" }),
});

const DISCOVERY_OFF: ApiError = { error: 'discovery_off', message: 'this node keeps no discovery queue (discovery.enabled or detection.enabled is false)' };
const ERROR_STATUS = { unknown_candidate: 404, no_local_rules: 409, rule_refused: 400 } as const;

/**
 * The discovery queue for analysts: candidate names with their evidence, dismissal, and
 * (for administrators) promotion into a rule of the local rules file, which the running
 * workers reload like any change to that file.
 */
export async function discoveryRoutes(api: FastifyInstance, { discovery, guards }: DiscoveryRouteOptions): Promise<void> {
  api.addHook('preValidation', decimalIntegers);
  api.addHook('onSend', noStore);
  const notFound = (name: string): ApiError => ({ error: 'unknown_candidate', message: `${name} is not in the discovery queue` });

  api.get<{ Querystring: ListQuery }>(
    '/api/discovery',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Candidate names for new rules, with their evidence',
        description:
          "Names no rule matches that resolved into a watch-listed owner's network or hosting, or that devices asked shortly after a catalogued app's names.",
        querystring: ListQuery,
        response: { 200: ListSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    async (request, reply) => (discovery === null ? reply.code(503).send(DISCOVERY_OFF) : discovery.list(request.query.limit ?? Limit.default, request.query.reason)),
  );

  api.post<{ Params: NameParams }>(
    '/api/discovery/:name/dismiss',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Takes a candidate out of the queue for good (this node, until restart)',
        params: NameParams,
        response: { 200: Type.Object({ name: Type.String(), dismissed: Type.Boolean() }), 404: ErrorSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.analyst,
    },
    async (request, reply) => {
      if (discovery === null) return reply.code(503).send(DISCOVERY_OFF);
      const name = request.params.name.toLowerCase().replace(/\.$/, '');
      if (!discovery.dismiss(name, request.principal!.name)) return reply.code(404).send(notFound(name));
      return { name, dismissed: true };
    },
  );

  api.post<{ Params: NameParams; Body: PromoteBody }>(
    '/api/discovery/:name/promote',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Makes a candidate a rule of an app in the local rules file (admin)',
        description:
          'Appends { app, domain: NAME, source: "discovery queue, promoted by WHO: REASON", verified: today } to detection.local_rules; the workers reload it like any change to that file.',
        params: NameParams,
        body: PromoteBody,
        response: {
          200: Type.Object({ name: Type.String(), rule: Type.Object({ app: Type.String(), domain: Type.String(), source: Type.String(), verified: Type.String() }), file: Type.String() }),
          404: ErrorSchema,
          409: ErrorSchema,
          ...COMMON_ERRORS,
        },
      },
      onRequest: guards.admin,
    },
    async (request, reply) => {
      if (discovery === null) return reply.code(503).send(DISCOVERY_OFF);
      const name = request.params.name.toLowerCase().replace(/\.$/, '');
      const outcome = discovery.promote(name, request.body.app, request.body.reason, request.principal!.name);
      if (!outcome.ok) return reply.code(ERROR_STATUS[outcome.error]).send({ error: outcome.error, message: outcome.message });
      return { name, rule: outcome.rule, file: outcome.file };
    },
  );
}
