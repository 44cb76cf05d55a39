// Sending webhooks: the outbox worker claims the row (channel http, kind `webhook`) like any other
// delivery; this file builds the signed request at send time, keeps a line per attempt, disables an
// endpoint that failed for the whole WEBHOOK_RETRY_WINDOW (and tells its tenant's admins), lists
// deliveries with their attempts, redelivers one, and queues a test event.
import { sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { Ctx } from '../../context.ts';
import { endpointDisabled, notFound } from '../../errors.ts';
import { esc } from '../../platform/html.ts';
import { rowsOf, type Db } from '../../platform/db.ts';
import { PermanentDeliveryError, type AttemptOutcome, type DeliveryHooks, type HttpPreparer } from '../../platform/outbox/http.ts';
import { enqueueMail } from '../../platform/outbox/outbox.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { layout, signed } from '../password-reset/emails/messages.ts';
import { mailBrandOf, senderOf } from '../tenants/settings.ts';
import { tenantById } from '../tenants/store.ts';
import { endpointRow, openSecret, type Scope } from './endpoints.ts';
import { TEST_EVENT, WEBHOOK_KIND } from './events.ts';

interface Prepared {
  id: string; endpoint_id: string; payload: Record<string, unknown>;
  sealed_secret: string; sealed_previous_secret: string | null; previous_secret_until: Date | string | null; disabled_at: Date | string | null;
}

/** The event as sent, in the contract's order (jsonb keeps its own). */
const bodyOf = (p: Record<string, unknown>) =>
  JSON.stringify({ id: p.id, type: p.type, timestamp: p.timestamp, tenant: p.tenant, data: p.data });

/**
 * Signs when the delivery leaves (Standard Webhooks): `webhook-id` is the delivery's id, the same
 * on every attempt and on a redelivery; during a rotation's overlap both secrets sign.
 */
export function webhookPreparer(ctx: Pick<Ctx, 'db' | 'secrets' | 'clock'>): HttpPreparer {
  return async (_payload, attempt) => {
    const [row] = rowsOf<Prepared>(await ctx.db.execute(sql`
      select d.id, d.endpoint_id, ev.payload, w.sealed_secret, w.sealed_previous_secret, w.previous_secret_until, w.disabled_at
      from webhook_deliveries d join webhook_events ev on ev.id = d.event_id join webhook_endpoints w on w.id = d.endpoint_id
      where d.outbox_id = ${attempt.id}::uuid`));
    if (!row) throw new PermanentDeliveryError('the webhook endpoint was deleted');
    if (row.disabled_at) throw new PermanentDeliveryError('the webhook endpoint is disabled');
    const now = ctx.clock.now();
    const secrets = [openSecret(ctx, row.endpoint_id, row.sealed_secret)];
    if (row.sealed_previous_secret && row.previous_secret_until && new Date(row.previous_secret_until) > now) {
      secrets.push(openSecret(ctx, row.endpoint_id, row.sealed_previous_secret));
    }
    const body = bodyOf(row.payload);
    return {
      body,
      contentType: 'application/json',
      headers: {
        'webhook-id': row.id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': secrets.map((s) => new Webhook(s).sign(row.id, now, body)).join(' '),
      },
    };
  };
}

/** Keeps every attempt; an endpoint whose deliveries all failed for the whole window is disabled. */
export function webhookHooks(ctx: Pick<Ctx, 'db' | 'secrets' | 'clock' | 'config' | 'log'>): DeliveryHooks {
  return {
    async onAttempt(rowId: string, o: AttemptOutcome) {
      const [d] = rowsOf<{ id: string; endpoint_id: string; created_at: Date | string }>(await ctx.db.execute(sql`
        select id, endpoint_id, created_at from webhook_deliveries where outbox_id = ${rowId}::uuid`));
      if (!d) return; // the endpoint was deleted meanwhile
      await ctx.db.execute(sql`
        insert into webhook_attempts (delivery_id, attempt, at, outcome, response_status, response_body, error)
        values (${d.id}::uuid, ${o.attempt}, ${o.at.toISOString()}::timestamptz, ${o.outcome}, ${o.status}, ${o.body}, ${o.outcome === 'delivered' ? null : o.error})`);
      if (o.outcome === 'failed' && o.cause === 'retry_window_ended') await disableIfFailing(ctx, d.endpoint_id, new Date(d.created_at));
    },
  };
}

/**
 * Disables the endpoint unless something reached it since `since` (when the delivery that just
 * gave up was queued): it failed for the whole window. Its tenant's admins are emailed.
 */
async function disableIfFailing(ctx: Pick<Ctx, 'db' | 'secrets' | 'clock' | 'config' | 'log'>, endpointId: string, since: Date): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const [w] = rowsOf<{ tenant_id: string | null; url: string }>(await tx.execute(sql`
      update webhook_endpoints w set disabled_at = ${now.toISOString()}::timestamptz, disabled_reason = 'failing', updated_at = ${now.toISOString()}::timestamptz
      where w.id = ${endpointId}::uuid and w.disabled_at is null and not exists (
        select 1 from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id
        where d.endpoint_id = w.id and a.outcome = 'delivered' and a.at >= ${since.toISOString()}::timestamptz)
      returning w.tenant_id, w.url`));
    if (!w) return;
    await audit(tx, { type: 'system' }, now, { type: 'webhook_disabled', tenantId: w.tenant_id, data: { endpointId, url: w.url, reason: 'failing' } });
    ctx.log.error({ webhook: { endpointId, tenantId: w.tenant_id } }, 'webhook endpoint disabled: every delivery failed for the whole retry window');
    if (w.tenant_id) await emailAdmins(ctx, tx, w.tenant_id, endpointId, w.url);
  });
}

async function emailAdmins(ctx: Pick<Ctx, 'secrets' | 'clock' | 'config'>, tx: Db, tenantId: string, endpointId: string, url: string): Promise<void> {
  const admins = rowsOf<{ id: string; email: string }>(await tx.execute(sql`
    select id, email from users where tenant_id = ${tenantId}::uuid and role = 'admin' and disabled_at is null`));
  const shown = url.split(/[?#]/)[0]!;
  const window = Math.round(ctx.config.webhooks.retryWindowMs / 3_600_000);
  const tenant = await tenantById(tx, tenantId);
  const brand = tenant ? mailBrandOf(tenant) : undefined;
  const lines = [
    `The webhook endpoint ${shown} did not accept any delivery for ${window} hours, so it was disabled.`,
    'Fix the receiver, then enable the endpoint again in the admin console (Webhooks) and redeliver the failed events from its delivery list.',
  ];
  const text = signed(`${lines.join('\n\n')}\n\nEndpoint id: ${endpointId}`, brand);
  const html = layout('A webhook endpoint was disabled', [...lines.map(esc), `Endpoint id: <code>${esc(endpointId)}</code>`], undefined, undefined, brand);
  const from = tenant ? senderOf(ctx.config.mailFrom, tenant) : null;
  for (const a of admins) {
    await enqueueMail(tx, ctx.secrets, ctx.clock, { kind: 'webhook_disabled', to: a.email, tenantId, userId: a.id, subject: 'A webhook endpoint was disabled', text, html, from });
  }
}

interface DeliveryRow {
  id: string; event_id: string; type: string; created_at: Date | string; status: string | null;
  next_attempt_at: Date | string | null; sent_at: Date | string | null; last_error: string | null;
}
interface AttemptRow {
  delivery_id: string; attempt: number; at: Date | string; outcome: string; response_status: number | null; response_body: string | null; error: string | null;
}
const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());

/** An endpoint's deliveries, newest first, each with every attempt (oldest first). */
export async function listWebhookDeliveries(ctx: Pick<Ctx, 'db'>, scope: Scope, endpointId: string, limit = 50) {
  await endpointRow(ctx, scope, endpointId);
  const deliveries = rowsOf<DeliveryRow>(await ctx.db.execute(sql`
    select d.id, d.event_id, ev.type, d.created_at, o.status, o.next_attempt_at, o.sent_at, o.last_error
    from webhook_deliveries d join webhook_events ev on ev.id = d.event_id left join outbox o on o.id = d.outbox_id
    where d.endpoint_id = ${endpointId}::uuid
    order by d.created_at desc, d.id limit ${Math.min(Math.max(limit, 1), 200)}`));
  const attempts = deliveries.length === 0 ? [] : rowsOf<AttemptRow>(await ctx.db.execute(sql`
    select delivery_id, attempt, at, outcome, response_status, response_body, error from webhook_attempts
    where delivery_id in (${sql.join(deliveries.map((d) => sql`${d.id}::uuid`), sql`, `)}) order by id`));
  return deliveries.map((d) => ({
    id: d.id, eventId: d.event_id, type: d.type,
    status: (d.status ?? 'failed') as 'queued' | 'sending' | 'sent' | 'failed',
    createdAt: iso(d.created_at)!, deliveredAt: d.status === 'sent' ? iso(d.sent_at) : null,
    nextAttemptAt: d.status === 'queued' ? iso(d.next_attempt_at) : null,
    lastError: d.status === 'sent' ? null : d.last_error,
    attempts: attempts.filter((a) => a.delivery_id === d.id).map((a) => ({
      attempt: a.attempt, at: iso(a.at)!, outcome: a.outcome as 'delivered' | 'retry' | 'failed',
      status: a.response_status, responseBody: a.response_body, error: a.error,
    })),
  }));
}

/** Queues the same event (same `webhook-id`) again, now, with a fresh retry window. */
export async function redeliver(ctx: Ctx, scope: Scope, endpointId: string, deliveryId: string, actor: Actor): Promise<{ id: string; status: 'queued' }> {
  const endpoint = await endpointRow(ctx, scope, endpointId);
  if (endpoint.disabledAt) throw endpointDisabled();
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now().toISOString();
    // Not while an attempt is in flight (status sending): that one is already the redelivery.
    const [row] = rowsOf<{ id: string }>(await tx.execute(sql`
      update outbox o set status = 'queued', attempts = 0, next_attempt_at = ${now}::timestamptz, created_at = ${now}::timestamptz,
             lease_until = null, last_error = null
      from webhook_deliveries d
      where d.id = ${deliveryId}::uuid and d.endpoint_id = ${endpointId}::uuid and o.id = d.outbox_id and o.status <> 'sending'
      returning d.id`));
    if (!row) {
      const [exists] = rowsOf<{ id: string }>(await tx.execute(sql`
        select id from webhook_deliveries where id = ${deliveryId}::uuid and endpoint_id = ${endpointId}::uuid`));
      if (!exists) throw notFound('No such delivery of this endpoint.');
    }
    await audit(tx, actor, new Date(now), { type: 'webhook_redelivered', tenantId: endpoint.tenantId, data: { endpointId, deliveryId } });
  });
  return { id: deliveryId, status: 'queued' };
}

/** Queues a `webhook.test` event to this endpoint only. */
export async function sendTestEvent(ctx: Ctx, scope: Scope, endpointId: string): Promise<{ deliveryId: string; eventId: string }> {
  const endpoint = await endpointRow(ctx, scope, endpointId);
  if (endpoint.disabledAt) throw endpointDisabled();
  const eventId = crypto.randomUUID();
  const deliveryId = crypto.randomUUID();
  const outboxId = crypto.randomUUID();
  const when = ctx.clock.now().toISOString();
  await ctx.db.transaction(async (tx) => {
    await tx.execute(sql`with ev as (
        insert into webhook_events (id, tenant_id, user_id, type, payload, created_at)
        select ${eventId}::uuid, ${endpoint.tenantId}::uuid, null, ${TEST_EVENT}::text,
          jsonb_build_object('id', ${eventId}::text, 'type', ${TEST_EVENT}::text, 'timestamp', ${when}::text,
            'tenant', jsonb_build_object('slug', (select slug from tenants where id = ${endpoint.tenantId}::uuid)),
            'data', jsonb_build_object('endpointId', ${endpointId}::text, 'message', 'This is a test event from Keyturn.')),
          ${when}::timestamptz
      ), d as (
        insert into webhook_deliveries (id, endpoint_id, event_id, outbox_id, created_at)
        values (${deliveryId}::uuid, ${endpointId}::uuid, ${eventId}::uuid, ${outboxId}::uuid, ${when}::timestamptz)
      )
      insert into outbox (id, channel, tenant_id, user_id, kind, to_address, subject, next_attempt_at, created_at)
      values (${outboxId}::uuid, 'http', ${endpoint.tenantId}::uuid, null, ${WEBHOOK_KIND}, ${endpoint.url}, '', ${when}::timestamptz, ${when}::timestamptz)`);
  });
  return { deliveryId, eventId };
}
