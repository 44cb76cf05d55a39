// The operator API (admin listener only, Bearer ADMIN_API_KEY). Missing or wrong key: 401, no detail.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound, unauthenticated } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { Secrets } from '../../platform/crypto.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import type { Actor } from '../audit/audit.ts';
import { listAudit } from '../audit/audit.ts';
import { auditSentencesEn } from '../audit/sentence-texts.ts';
import { withSentences } from '../audit/sentences.ts';
import { listTenants, SLUG, tenantBySlug, tenantView } from '../tenants/store.ts';
import { ConnectionInput, ConnectionPatch } from '../sso/connection.ts';
import { SettingsPatch } from '../tenants/settings.ts';
import { createTenant, updateTenant } from '../tenants/tenants.ts';
import { listDeliveries } from '../../platform/outbox/outbox.ts';
import { AuditList, AuditQuery, auditFilterOf, Delivery, registerUserRoutes } from './user-routes.ts';
import { registerClientRoutes } from '../oidc/routes.ts';
import { registerWebhookRoutes } from '../webhooks/routes.ts';
import { registerScimTokenRoutes } from '../scim/token-routes.ts';

const CreateTenant = z.object({
  slug: z.string().regex(SLUG, 'use lower-case letters, digits and dashes (at most 63)'),
  name: z.string().min(1).max(200),
  loginMethods: z.array(z.enum(['password', 'google'])).min(1).max(2).optional(),
  passwordPolicy: z.record(z.string(), z.unknown()).optional(),
  google: ConnectionInput.optional(),
  mfa: SettingsPatch.mfa,
  trustIdpMfa: SettingsPatch.trustIdpMfa,
  brand: SettingsPatch.brand,
  branding: SettingsPatch.branding,
});

const PatchTenant = z.object({
  name: z.string().min(1).max(200).optional(),
  loginMethods: z.array(z.enum(['password', 'google'])).min(1).max(2).optional(),
  passwordPolicy: z.record(z.string(), z.unknown()).optional(),
  google: ConnectionPatch.nullable().optional(),
  ...SettingsPatch,
});

// A tenant's filters (user, type, actor kind, time), across tenants unless one is named.
const OperatorAuditQuery = AuditQuery.extend({ tenant: z.string().max(63).optional() });
const DeliveriesQuery = z.object({
  tenant: z.string().max(63).optional(), status: z.enum(['queued', 'sending', 'sent', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});
const TenantView = z.object({
  id: z.string(), slug: z.string(), name: z.string(), loginMethods: z.array(z.enum(['password', 'google'])),
  passwordPolicy: z.record(z.string(), z.unknown()), google: z.looseObject({}).nullable(),
  resetTokenTtl: z.string().nullable(), adminResetTokenTtl: z.string().nullable(),
  sender: z.object({ name: z.string().nullable(), address: z.string().nullable() }).nullable(),
  brand: z.object({ name: z.string(), logoUrl: z.string().nullable(), color: z.string().nullable() }).nullable(),
  branding: z.object({ name: z.string().nullable(), colour: z.string().nullable(), logoUrl: z.string().nullable() }).nullable()
    .describe('Deprecated: `brand` under its old name.'),
  mfa: z.enum(['optional', 'admins', 'everyone']), trustIdpMfa: z.boolean(),
  scim: z.object({ sendWelcome: z.boolean() }).describe('SCIM provisioning: whether users created over SCIM get the welcome email'),
  createdAt: z.iso.datetime(),
});
const tags = ['tenants'];
const noTenant = { 404: err('`not_found`: no such tenant.') };

const OPERATOR: Actor = { type: 'operator', id: 'api-key' };

export async function operatorRoutes(app: FastifyInstance, { ctx, apiKey }: { ctx: Ctx; apiKey: string }) {
  const expected = ctx.secrets.hash('admin-key', apiKey);
  app.addHook('onRequest', async (request) => {
    const m = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!m || !Secrets.equal(ctx.secrets.hash('admin-key', m[1]!), expected)) {
      throw unauthenticated('Unauthorized.');
    }
  });

  app.post('/admin/v1/tenants', doc({
    summary: 'Create a tenant', tags, body: CreateTenant,
    responses: { 201: { description: 'Created.', schema: z.object({ id: z.string(), slug: z.string() }) }, ...common.invalid, 409: err('The slug is taken.') },
  }), async (request, reply) => {
    const body = parse(CreateTenant, request.body);
    const tenant = await createTenant(ctx, body, { ...OPERATOR, ip: request.ip });
    return reply.status(201).send({ id: tenant.id, slug: tenant.slug });
  });

  app.get('/admin/v1/tenants', doc({
    summary: 'List tenants', tags, responses: { 200: { description: 'Every tenant.', schema: z.object({ tenants: z.array(TenantView) }) } },
  }), async () => ({ tenants: (await listTenants(ctx.db)).map(tenantView) }));

  app.get<{ Params: { slug: string } }>('/admin/v1/tenants/:slug', doc({
    summary: 'One tenant', tags, responses: { 200: { description: 'The tenant (the Google client secret is never returned).', schema: TenantView }, ...noTenant },
  }), async (request) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    if (!tenant) throw notFound('No such tenant.');
    return tenantView(tenant);
  });

  app.patch<{ Params: { slug: string } }>('/admin/v1/tenants/:slug', doc({
    summary: 'Change a tenant (name, login methods, password policy, Google connection, reset lifetimes, sender, brand, two-step verification)', tags, body: PatchTenant,
    responses: { 200: { description: 'The tenant as it is now.', schema: TenantView }, ...common.invalid, ...noTenant },
  }), async (request) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    if (!tenant) throw notFound('No such tenant.');
    return tenantView(await updateTenant(ctx, tenant, parse(PatchTenant, request.body), { ...OPERATOR, ip: request.ip }));
  });

  app.get('/admin/v1/audit', doc({
    summary: 'Audit events of every tenant (or one), newest first, each with a sentence for people (`text`); filter by user, type, actor kind and time', tags: ['audit'], query: OperatorAuditQuery,
    responses: { 200: { description: 'Events.', schema: AuditList }, ...common.invalid, ...noTenant },
  }), async (request) => {
    const { tenant: slug, ...q } = parse(OperatorAuditQuery, request.query ?? {});
    const tenant = slug ? await tenantBySlug(ctx.db, slug) : undefined;
    if (slug && !tenant) throw notFound('No such tenant.');
    // Across tenants, the people named are looked up wherever they are.
    return { events: await withSentences(ctx, tenant ?? null, await listAudit(ctx.db, { ...auditFilterOf(q), tenantId: tenant?.id }), auditSentencesEn) };
  });

  app.get('/admin/v1/deliveries', doc({
    summary: 'Deliveries (emails and HTTP POSTs such as back-channel logout) of every tenant (or one), newest first; `status=failed` finds what did not go out', tags: ['deliveries'], query: DeliveriesQuery,
    responses: { 200: { description: 'Deliveries with attempts, SMTP replies or HTTP answers, and failure reasons (never their content).', schema: z.object({ deliveries: z.array(Delivery) }) }, ...common.invalid, ...noTenant },
  }), async (request) => {
    const q = parse(DeliveriesQuery, request.query ?? {});
    const tenant = q.tenant ? await tenantBySlug(ctx.db, q.tenant) : undefined;
    if (q.tenant && !tenant) throw notFound('No such tenant.');
    return { deliveries: await listDeliveries(ctx.db, { tenantId: tenant?.id, status: q.status, limit: q.limit }) };
  });

  registerClientRoutes(app, ctx);

  registerWebhookRoutes(app, ctx, '/admin/v1', async (request) => ({ scope: { operator: true }, actor: { ...OPERATOR, ip: request.ip } }));

  registerScimTokenRoutes(app, ctx, '/admin/v1/tenants/:slug', async (request) => {
    const tenant = await tenantBySlug(ctx.db, (request.params as { slug: string }).slug);
    if (!tenant) throw notFound('No such tenant.');
    return { tenant, actor: { ...OPERATOR, ip: request.ip } };
  });

  registerUserRoutes(app, ctx, '/admin/v1/tenants/:slug', async (request) => {
    const { slug } = request.params as { slug: string };
    const tenant = await tenantBySlug(ctx.db, slug);
    if (!tenant) throw notFound('No such tenant.');
    return { tenant, actor: { ...OPERATOR, ip: request.ip } };
  });
}
