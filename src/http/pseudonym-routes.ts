import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { History } from '../history/history.js';
import { BeforeId, COMMON_ERRORS, ErrorSchema, Limit, NextBeforeId, stringEnum, withHistory, type ApiRouteOptions } from './api-common.js';

const ResolveBody = Type.Object(
  {
    pseudonym: Type.String({ minLength: 1, maxLength: 64, description: 'As shown in events, e.g. "p:0123456789abcdef01234567"' }),
    reason: Type.String({ minLength: 1, maxLength: 500, pattern: '\\S', description: 'Why: recorded in the audit trail (incident or ticket number)' }),
  },
  { additionalProperties: false },
);
type ResolveBody = Static<typeof ResolveBody>;

const AuditQuery = Type.Object({ before_id: Type.Optional(BeforeId), limit: Type.Optional(Limit) }, { additionalProperties: false });
type AuditQuery = Static<typeof AuditQuery>;

const AuditSchema = Type.Object({
  entries: Type.Array(
    Type.Object({
      id: Type.Integer(),
      ts: Type.Number({ description: 'Epoch ms' }),
      principal: Type.String({ description: 'Name of the token holder' }),
      action: Type.String(),
      subject: Type.String({ description: 'The pseudonym looked up' }),
      reason: Type.String(),
      found: Type.Boolean({ description: 'Whether an address was disclosed' }),
      outcome: stringEnum(['disclosed', 'not_found', 'refused'], { description: 'refused: the caller lacks the admin role; nothing was looked up' }),
    }),
    { description: 'Newest first' },
  ),
  next_before_id: NextBeforeId,
});

/**
 * Before the body is validated, once it is parsed: a caller without the admin role is
 * refused with 403, and the attempt is audited with whatever pseudonym and reason it gave.
 */
function refuseNonAdmins(history: History | null) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const principal = request.principal!;
    if (principal.role === 'admin') return;
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const field = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');
    try {
      history?.refusePseudonym(field(body.pseudonym, 64), principal.name, field(body.reason, 500));
    } catch (error) {
      request.log.error({ err: error, principal: principal.name }, 'refused pseudonym resolution could not be audited');
    }
    await reply.code(403).send({ error: 'forbidden', message: 'this needs the admin role' });
    return reply;
  };
}

/** Re-identification of pseudonymised devices, for administrators only, every attempt audited. */
export async function pseudonymRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  app.post<{ Body: ResolveBody }>(
    '/api/pseudonyms/resolve',
    {
      schema: {
        tags: ['privacy'],
        summary: 'The address behind a pseudonym (admin; audited)',
        description:
          'Every call is recorded in the audit trail with the caller and the reason, found or not; so is a refused attempt by a caller without the admin role (outcome refused).',
        body: ResolveBody,
        response: { 200: Type.Object({ pseudonym: Type.String(), address: Type.String() }), 404: ErrorSchema, ...COMMON_ERRORS },
      },
      // Any signed-in role gets this far, so that a refusal can be audited with the body it sent.
      onRequest: guards.analyst,
      preValidation: refuseNonAdmins(history),
    },
    withHistory<{ Body: ResolveBody }>(history, (history, request, reply) => {
      const { pseudonym, reason } = request.body;
      let address: string | null;
      try {
        address = history.resolvePseudonym(pseudonym, request.principal!.name, reason);
      } catch (error) {
        request.log.error({ err: error }, 'audit entry could not be stored; pseudonym not resolved');
        return reply.code(503).send({ error: 'audit_unavailable', message: 'the audit trail cannot be written, so nothing is disclosed' });
      }
      if (address === null) return reply.code(404).send({ error: 'unknown_pseudonym', message: 'no address is known for this pseudonym' });
      return { pseudonym, address };
    }),
  );
  app.get<{ Querystring: AuditQuery }>(
    '/api/audit',
    {
      schema: {
        tags: ['privacy'],
        summary: 'Audit trail of pseudonym resolutions (admin)',
        querystring: AuditQuery,
        response: { 200: AuditSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.admin,
    },
    withHistory<{ Querystring: AuditQuery }>(history, (history, request) => {
      const page = history.audit(request.query.before_id ?? null, request.query.limit ?? Limit.default);
      return { entries: page.items, next_before_id: page.next_before_id };
    }),
  );
}
