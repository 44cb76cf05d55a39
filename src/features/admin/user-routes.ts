// User management routes with one shape for two doors: the operator API (tenant from the URL,
// operator key) and the tenant admin API (tenant from the admin's session, own tenant only).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../../config.ts';
import type { Ctx } from '../../platform/context.ts';
import { parse } from '../../platform/http.ts';
import { deliveriesOf } from '../../platform/mail/outbox.ts';
import { listAudit, type Actor } from '../audit/audit.ts';
import { createUser, getUser, importUsers, listUsers, signOutEverywhere, updateUser, userView } from '../accounts/accounts.ts';
import type { Tenant } from '../tenants/store.ts';
import { linkedIdentities, unlinkIdentity } from '../sso/identities.ts';
import { adminReset } from './admin-reset.ts';

export type TenantResolver = (request: FastifyRequest) => Promise<{ tenant: Tenant; actor: Actor }>;

const Role = z.enum(['admin', 'member']);
const CreateUser = z.object({
  email: z.string().max(254),
  name: z.string().max(200).optional(),
  password: z.string().max(4096).optional(),
  role: Role.optional(),
});
const PatchUser = z.object({
  disabled: z.boolean().optional(),
  locked: z.literal(false).optional(),
  role: Role.optional(),
  name: z.string().max(200).optional(),
  email: z.string().max(254).optional(),
});
const ResetBody = z.object({
  delivery: z.enum(['email', 'link']),
  expiresIn: z.enum(['1h', '24h', '72h', '7d']).optional(),
  reason: z.string().max(500).optional(),
});
const ImportBody = z.object({
  users: z.array(z.object({ email: z.string().max(1000), name: z.string().max(1000).optional(), role: z.string().max(50).optional() })).max(100_000),
});
const ListQuery = z.object({ q: z.string().max(200).optional(), after: z.string().max(300).optional(), limit: z.coerce.number().int().min(1).max(200).optional() });
const AuditQuery = z.object({ userId: z.string().uuid().optional(), type: z.string().max(64).optional(), before: z.coerce.number().int().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

export function registerUserRoutes(app: FastifyInstance, ctx: Ctx, base: string, resolve: TenantResolver): void {
  app.get(`${base}/users`, async (request) => {
    const { tenant } = await resolve(request);
    return listUsers(ctx, tenant, parse(ListQuery, request.query ?? {}));
  });

  app.post(`${base}/users`, async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(CreateUser, request.body);
    const user = await createUser(ctx, tenant, body, actor);
    return reply.status(201).send({ id: user.id, email: user.email });
  });

  app.post(`${base}/users/import`, async (request) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(ImportBody, request.body);
    return importUsers(ctx, tenant, body.users, actor);
  });

  app.get<{ Params: { id: string } }>(`${base}/users/:id`, async (request) => {
    const { tenant } = await resolve(request);
    const user = await getUser(ctx, tenant, request.params.id);
    return { ...userView(user), identities: await linkedIdentities(ctx, tenant, user.id) };
  });

  app.delete<{ Params: { id: string; identityId: string } }>(`${base}/users/:id/identities/:identityId`, async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    await unlinkIdentity(ctx, tenant, request.params.id, request.params.identityId, actor);
    return reply.status(204).send();
  });

  app.patch<{ Params: { id: string } }>(`${base}/users/:id`, async (request) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(PatchUser, request.body);
    return userView(await updateUser(ctx, tenant, request.params.id, body, actor));
  });

  app.post<{ Params: { id: string } }>(`${base}/users/:id/password-reset`, async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(ResetBody, request.body);
    const ttlMs = body.expiresIn ? parseDuration(body.expiresIn)! : undefined;
    const issued = await adminReset(ctx, tenant, request.params.id, { delivery: body.delivery, ttlMs, reason: body.reason }, actor);
    if (body.delivery === 'link') return reply.status(201).send({ url: issued.url, expiresAt: issued.expiresAt.toISOString() });
    return reply.status(202).send({ status: 'queued', expiresAt: issued.expiresAt.toISOString() });
  });

  app.post<{ Params: { id: string } }>(`${base}/users/:id/sign-out-everywhere`, async (request) => {
    const { tenant, actor } = await resolve(request);
    return { revoked: await signOutEverywhere(ctx, tenant, request.params.id, actor) };
  });

  app.get<{ Params: { id: string } }>(`${base}/users/:id/deliveries`, async (request) => {
    const { tenant } = await resolve(request);
    const user = await getUser(ctx, tenant, request.params.id);
    return { deliveries: await deliveriesOf(ctx.db, { userId: user.id, tenantId: tenant.id }) };
  });

  app.get(`${base}/audit`, async (request) => {
    const { tenant } = await resolve(request);
    const q = parse(AuditQuery, request.query ?? {});
    if (q.userId) await getUser(ctx, tenant, q.userId);
    return { events: await listAudit(ctx.db, { tenantId: tenant.id, ...q }) };
  });
}

