// Webhook endpoints: registered by the operator (every tenant or some) or by a tenant admin (their
// tenant only). The secret (`whsec_…`) is shown once and stored sealed; rotating it keeps the old
// one signing for 24 hours. A destination on loopback, private, link-local or metadata addresses
// is refused here (and again at every delivery, by the outbox) unless WEBHOOK_ALLOWED_HOSTS lists it.
import { randomBytes } from 'node:crypto';
import { and, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import { destinationRefused, invalidRequest, notFound } from '../../errors.ts';
import { AllowList, checkDestinationUrl, DestinationRefused, resolveDestination, type Resolver } from '../../platform/outbox/ssrf.ts';
import { tenants, webhookEndpoints } from '../../platform/schema.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { WEBHOOK_EVENTS } from './events.ts';

/** After a rotation the previous secret signs too, this long (Standard Webhooks allows several signatures). */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

/** Who is asking: the operator (every endpoint) or a tenant admin (their tenant's endpoints). */
export type Scope = { operator: true } | { operator: false; tenantId: string };

const EventList = z.array(z.enum([...WEBHOOK_EVENTS, '*'])).min(1).max(WEBHOOK_EVENTS.length + 1);
export const CreateEndpoint = z.object({
  url: z.string().max(2048),
  events: EventList,
  tenants: z.array(z.string().max(63)).min(1).max(1000).optional().describe('operator only: the tenants (slugs) heard; absent = every tenant'),
  description: z.string().max(500).optional(),
});
export const PatchEndpoint = z.object({
  url: z.string().max(2048).optional(),
  events: EventList.optional(),
  disabled: z.boolean().optional(),
  description: z.string().max(500).optional(),
  tenants: z.array(z.string().max(63)).min(1).max(1000).nullable().optional().describe('operator only; null = every tenant'),
  rotateSecret: z.literal(true).optional().describe('a new secret, answered once as `secret`; the previous one keeps signing for 24 hours'),
});
export const EndpointView = z.object({
  id: z.string(), url: z.string(), events: z.array(z.string()), description: z.string(),
  tenant: z.string().nullable().describe("the tenant (slug) that owns it; null = the operator's"),
  tenants: z.array(z.string()).nullable().describe("operator endpoints: the tenants heard (slugs); null = every tenant"),
  disabled: z.boolean(), disabledAt: z.iso.datetime().nullable(),
  disabledReason: z.enum(['admin', 'failing']).nullable().describe('failing: every delivery failed for the whole WEBHOOK_RETRY_WINDOW'),
  previousSecretValidUntil: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(), updatedAt: z.iso.datetime(),
});
export type EndpointView = z.infer<typeof EndpointView>;
export type EndpointRow = typeof webhookEndpoints.$inferSelect;

/** `whsec_` + 32 random bytes in base64, the form Standard Webhooks libraries take as it is. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SEAL = 'webhook' as const;
const sealSecret = (ctx: Pick<Ctx, 'secrets'>, id: string, secret: string) => ctx.secrets.seal(secret, SEAL, id);
export const openSecret = (ctx: Pick<Ctx, 'secrets'>, id: string, sealed: string) => ctx.secrets.open(sealed, SEAL, id);

/**
 * The URL may be registered: http(s), no credentials, and every address its host resolves to
 * (or the address it names) is one a webhook may reach.
 */
export async function checkWebhookUrl(ctx: Pick<Ctx, 'config'>, value: string, resolve?: Resolver): Promise<string> {
  const allowed = new AllowList(ctx.config.webhooks.allowedHosts);
  const checked = checkDestinationUrl(value, allowed);
  if (!checked.ok) throw destinationRefused(`url: ${checked.reason}.`);
  try {
    await resolveDestination(checked.url, allowed, resolve);
  } catch (e) {
    if (e instanceof DestinationRefused) throw destinationRefused(`url: ${e.message}.`);
    throw destinationRefused(`url: ${checked.url.hostname} does not resolve (${(e as Error).message}).`);
  }
  return checked.url.toString();
}

async function tenantIdsOf(ctx: Pick<Ctx, 'db'>, slugs: string[]): Promise<string[]> {
  const rows = await ctx.db.select({ id: tenants.id, slug: tenants.slug }).from(tenants).where(inArray(tenants.slug, slugs));
  const missing = slugs.filter((s) => !rows.some((r) => r.slug === s));
  if (missing.length > 0) throw invalidRequest(`tenants: no tenant ${missing.map((s) => `"${s}"`).join(', ')}.`);
  return [...new Set(rows.map((r) => r.id))];
}

async function viewsOf(ctx: Pick<Ctx, 'db'>, rows: EndpointRow[]): Promise<EndpointView[]> {
  const ids = [...new Set(rows.flatMap((r) => [...(r.tenantId ? [r.tenantId] : []), ...(r.tenants ?? [])]))];
  const slugs = new Map(ids.length === 0 ? [] : (await ctx.db.select({ id: tenants.id, slug: tenants.slug }).from(tenants).where(inArray(tenants.id, ids))).map((t) => [t.id, t.slug]));
  return rows.map((r) => ({
    id: r.id, url: r.url, events: r.events, description: r.description,
    tenant: r.tenantId ? slugs.get(r.tenantId) ?? null : null,
    tenants: r.tenantId ? null : r.tenants?.map((id) => slugs.get(id)).filter((s): s is string => !!s) ?? null,
    disabled: r.disabledAt !== null, disabledAt: r.disabledAt?.toISOString() ?? null,
    disabledReason: (r.disabledReason as 'admin' | 'failing' | null) ?? null,
    previousSecretValidUntil: r.previousSecretUntil?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString(),
  }));
}

const inScope = (scope: Scope): SQL | undefined => (scope.operator ? undefined : eq(webhookEndpoints.tenantId, scope.tenantId));

/** One endpoint the scope may see; another tenant's id answers 404 like an unknown one. */
export async function endpointRow(ctx: Pick<Ctx, 'db'>, scope: Scope, id: string): Promise<EndpointRow> {
  if (!z.uuid().safeParse(id).success) throw notFound('No such webhook endpoint.');
  const [row] = await ctx.db.select().from(webhookEndpoints).where(and(eq(webhookEndpoints.id, id), inScope(scope)));
  if (!row) throw notFound('No such webhook endpoint.');
  return row;
}

export async function listEndpoints(ctx: Pick<Ctx, 'db'>, scope: Scope): Promise<EndpointView[]> {
  const rows = await ctx.db.select().from(webhookEndpoints).where(inScope(scope)).orderBy(desc(webhookEndpoints.createdAt));
  return viewsOf(ctx, rows);
}

export const getEndpoint = async (ctx: Pick<Ctx, 'db'>, scope: Scope, id: string) => (await viewsOf(ctx, [await endpointRow(ctx, scope, id)]))[0]!;

export async function createEndpoint(ctx: Ctx, scope: Scope, input: z.infer<typeof CreateEndpoint>, actor: Actor): Promise<EndpointView & { secret: string }> {
  if (!scope.operator && input.tenants) throw invalidRequest('tenants: a tenant admin registers endpoints for their own tenant only.');
  const url = await checkWebhookUrl(ctx, input.url);
  const tenantList = scope.operator && input.tenants ? await tenantIdsOf(ctx, input.tenants) : null;
  const secret = newSecret();
  const now = ctx.clock.now();
  const row = await ctx.db.transaction(async (tx) => {
    const id = crypto.randomUUID();
    const [created] = await tx.insert(webhookEndpoints).values({
      id, tenantId: scope.operator ? null : scope.tenantId, tenants: tenantList, url, events: [...new Set(input.events)],
      description: input.description ?? '', sealedSecret: sealSecret(ctx, id, secret), createdAt: now, updatedAt: now,
    }).returning();
    await audit(tx, actor, now, { type: 'webhook_created', tenantId: created!.tenantId, data: { endpointId: id, url: created!.url, events: created!.events } });
    return created!;
  });
  return { ...(await viewsOf(ctx, [row]))[0]!, secret };
}

export async function updateEndpoint(ctx: Ctx, scope: Scope, id: string, input: z.infer<typeof PatchEndpoint>, actor: Actor): Promise<EndpointView & { secret?: string }> {
  const before = await endpointRow(ctx, scope, id);
  if (!scope.operator && input.tenants !== undefined) throw invalidRequest('tenants: a tenant admin registers endpoints for their own tenant only.');
  if (before.tenantId && input.tenants !== undefined) throw invalidRequest("tenants: this endpoint belongs to a tenant; it hears that tenant's events only.");
  const now = ctx.clock.now();
  const set: Partial<typeof webhookEndpoints.$inferInsert> = { updatedAt: now };
  if (input.url !== undefined) set.url = await checkWebhookUrl(ctx, input.url);
  if (input.events !== undefined) set.events = [...new Set(input.events)];
  if (input.description !== undefined) set.description = input.description;
  if (input.tenants !== undefined) set.tenants = input.tenants === null ? null : await tenantIdsOf(ctx, input.tenants);
  if (input.disabled === true && !before.disabledAt) Object.assign(set, { disabledAt: now, disabledReason: 'admin' });
  if (input.disabled === false) Object.assign(set, { disabledAt: null, disabledReason: null });
  let secret: string | undefined;
  if (input.rotateSecret) {
    secret = newSecret();
    Object.assign(set, { sealedSecret: sealSecret(ctx, id, secret), sealedPreviousSecret: before.sealedSecret, previousSecretUntil: new Date(now.getTime() + ROTATION_OVERLAP_MS) });
  }
  const row = await ctx.db.transaction(async (tx) => {
    const [after] = await tx.update(webhookEndpoints).set(set).where(eq(webhookEndpoints.id, id)).returning();
    if (!after) throw notFound('No such webhook endpoint.');
    // Deliveries still waiting go to the new address (each attempt checks it again).
    if (set.url && set.url !== before.url) {
      await tx.execute(sql`update outbox set to_address = ${set.url}
        where status = 'queued' and id in (select outbox_id from webhook_deliveries where endpoint_id = ${id}::uuid)`);
    }
    const changed = Object.keys(input).filter((k) => k !== 'rotateSecret' && input[k as keyof typeof input] !== undefined);
    await audit(tx, actor, now, { type: 'webhook_updated', tenantId: after.tenantId, data: { endpointId: id, changed, ...(input.rotateSecret ? { secretRotated: true } : {}) } });
    return after;
  });
  const view = (await viewsOf(ctx, [row]))[0]!;
  return secret ? { ...view, secret } : view;
}

export async function deleteEndpoint(ctx: Ctx, scope: Scope, id: string, actor: Actor): Promise<void> {
  const row = await endpointRow(ctx, scope, id);
  await ctx.db.transaction(async (tx) => {
    // Its deliveries go with it; queued ones are then refused for good when their turn comes.
    await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
    await audit(tx, actor, ctx.clock.now(), { type: 'webhook_deleted', tenantId: row.tenantId, data: { endpointId: id, url: row.url } });
  });
}
