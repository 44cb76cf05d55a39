// The SCIM token routes, one shape for two doors (CONTRACT §11): the operator API
// (/admin/v1/tenants/{slug}/scim-tokens) and the tenant admin API (/api/v1/admin/scim-tokens,
// permission scim.manage). A token is answered once, when made; lists never show it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import type { Actor } from '../audit/audit.ts';
import { needs } from '../admin/permissions.ts';
import type { Tenant } from '../tenants/store.ts';
import { CreateToken, createToken, listTokens, revokeToken, TokenView } from './tokens.ts';

export type TenantResolver = (request: FastifyRequest) => Promise<{ tenant: Tenant; actor: Actor }>;

const tags = ['scim'];
const noToken = { 404: err('`not_found`: no such SCIM token (or another tenant\'s).') };

export function registerScimTokenRoutes(app: FastifyInstance, ctx: Ctx, base: string, resolve: TenantResolver): void {
  app.post(`${base}/scim-tokens`, needs('scim.manage', doc({
    summary: 'Make a SCIM token for the tenant\'s identity provider', tags, body: CreateToken,
    description: 'The identity provider (Okta, Entra ID) calls `PUBLIC_URL/scim/v2/{slug}` with it as `Authorization: Bearer`. Only a keyed hash is kept: copy the token now.',
    responses: { 201: { description: 'Made. `token` (`scim_…`) is shown this once.', schema: TokenView.extend({ token: z.string() }) }, ...common.invalid },
  })), async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    return reply.status(201).send(await createToken(ctx, tenant, parse(CreateToken, request.body ?? {}), actor));
  });

  app.get(`${base}/scim-tokens`, needs('scim.manage', doc({
    summary: 'The tenant\'s SCIM tokens', tags,
    responses: { 200: { description: 'Newest first (never a token).', schema: z.object({ tokens: z.array(TokenView) }) } },
  })), async (request) => {
    const { tenant } = await resolve(request);
    return { tokens: await listTokens(ctx, tenant) };
  });

  app.delete<{ Params: { id: string } }>(`${base}/scim-tokens/:id`, needs('scim.manage', doc({
    summary: 'Revoke a SCIM token', tags, description: 'The next SCIM request with it is answered 401.',
    responses: { 204: 'Revoked.', ...noToken },
  })), async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    await revokeToken(ctx, tenant, request.params.id, actor);
    return reply.status(204).send();
  });
}
