import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { BeforeId, COMMON_ERRORS, ErrorSchema, Limit, NextBeforeId, withHistory, type ApiRouteOptions } from './api-common.js';

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
    }),
    { description: 'Newest first' },
  ),
  next_before_id: NextBeforeId,
});

/** Re-identification of pseudonymised devices, for administrators only, every use audited. */
export async function pseudonymRoutes(app: FastifyInstance, { history, guards }: ApiRouteOptions): Promise<void> {
  app.post<{ Body: ResolveBody }>(
    '/api/pseudonyms/resolve',
    {
      schema: {
        tags: ['privacy'],
        summary: 'The address behind a pseudonym (admin; audited)',
        description: 'Every call is recorded in the audit trail with the caller and the reason, found or not.',
        body: ResolveBody,
        response: { 200: Type.Object({ pseudonym: Type.String(), address: Type.String() }), 404: ErrorSchema, ...COMMON_ERRORS },
      },
      onRequest: guards.admin,
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
