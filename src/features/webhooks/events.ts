// The events of CONTRACT §10, made from the audit lines: every change that matters to the platform
// already writes one (audit.ts) inside its transaction, so the event rides along in the same SQL
// statement — no change without its event, no event without its change, and no extra round trip.
// When no enabled endpoint listens, the statement writes the audit line and nothing else.
import { sql, type SQL } from 'drizzle-orm';

export const WEBHOOK_EVENTS = [
  'user.created', 'user.updated', 'user.disabled', 'user.enabled', 'user.locked', 'user.password_reset',
  'user.password_changed', 'user.sessions_revoked', 'user.mfa_enrolled', 'user.mfa_removed', 'user.mfa_reset',
  'user.deleted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
/** Sent by "send test event" only; an endpoint cannot subscribe to it. */
export const TEST_EVENT = 'webhook.test';

/** The kind of the outbox rows that carry webhooks. */
export const WEBHOOK_KIND = 'webhook';

type Data = Record<string, unknown>;
interface Mapping { event: WebhookEventType; data?: (audit: Data) => Data; }

const str = (v: unknown) => (typeof v === 'string' ? v : null);
const num = (v: unknown) => (typeof v === 'number' ? v : null);

/**
 * Audit type → event, and the fields of the audit data the event may carry: only named fields,
 * so nothing the audit line holds by mistake (a token id, a reason typed by an admin) leaves.
 */
const FROM_AUDIT: Record<string, Mapping> = {
  user_created: { event: 'user.created' },
  users_imported: { event: 'user.created', data: () => ({ imported: true }) },
  user_renamed: { event: 'user.updated', data: () => ({ changed: ['name'] }) },
  email_changed: { event: 'user.updated', data: (d) => ({ changed: ['email'], previousEmail: str(d.from) }) },
  role_changed: { event: 'user.updated', data: (d) => ({ changed: ['role'], previousRole: str(d.from) }) },
  user_disabled: { event: 'user.disabled' },
  user_enabled: { event: 'user.enabled' },
  user_locked: { event: 'user.locked', data: (d) => ({ via: str(d.via) ?? 'admin' }) },
  password_reset_completed: { event: 'user.password_reset', data: (d) => ({ sessionsRevoked: str(d.sessionsRevoked) }) },
  password_changed: { event: 'user.password_changed', data: (d) => ({ sessionsRevoked: str(d.sessionsRevoked) }) },
  sessions_revoked: { event: 'user.sessions_revoked', data: (d) => ({ count: num(d.count), exceptCurrent: d.exceptCurrent === true }) },
  mfa_factor_added: { event: 'user.mfa_enrolled', data: (d) => ({ factorType: str(d.type) }) },
  mfa_factor_removed: { event: 'user.mfa_removed', data: (d) => ({ factorType: str(d.type) }) },
  mfa_reset: { event: 'user.mfa_reset', data: (d) => ({ factorsRemoved: num(d.factorsRemoved) }) },
  // Queued while the row still exists; erase.ts then strips the address and name from the payload.
  user_erased: { event: 'user.deleted' },
};

export const eventOfAudit = (auditType: string): WebhookEventType | undefined => FROM_AUDIT[auditType]?.event;

/** The endpoints (alias w) that hear `type` in `tenantId`: enabled, subscribed, and the tenant's own or the operator's for it. */
export const listening = (type: string, tenantId: SQL) => sql`w.disabled_at is null
  and w.events ?| array['*', ${type}::text]
  and (w.tenant_id = ${tenantId} or (w.tenant_id is null and (w.tenants is null or w.tenants ? (${tenantId})::text)))`;

/**
 * Queues an event to every endpoint listening, after `rows`, the users it is about (a CTE `s` with
 * id, tenant_id, user_id, email, name, role, slug): the event row, one delivery per endpoint, one
 * outbox row per delivery (channel http, kind webhook, no sealed payload: the event row is it).
 */
export function queueEvents(prefix: SQL, type: string, at: Date, tenantId: string, users: SQL, extra: Data): SQL {
  const when = at.toISOString();
  return sql`${prefix}
    s as (
      select gen_random_uuid() as id, u.tenant_id, u.id as user_id, u.email, u.name, u.role, t.slug
      from users u join tenants t on t.id = u.tenant_id
      where ${users} and exists (select 1 from webhook_endpoints w where ${listening(type, sql`${tenantId}::uuid`)})
    ),
    ev as (
      insert into webhook_events (id, tenant_id, user_id, type, payload, created_at)
      select s.id, s.tenant_id, s.user_id, ${type}::text,
        jsonb_build_object('id', s.id, 'type', ${type}::text, 'timestamp', ${when}::text, 'tenant', jsonb_build_object('slug', s.slug),
          'data', jsonb_build_object('userId', s.user_id, 'email', s.email, 'name', s.name, 'role', s.role) || ${JSON.stringify(extra)}::jsonb),
        ${when}::timestamptz
      from s
      returning id, tenant_id, user_id
    ),
    d as (
      insert into webhook_deliveries (id, endpoint_id, event_id, outbox_id, created_at)
      select gen_random_uuid(), w.id, ev.id, gen_random_uuid(), ${when}::timestamptz
      from ev join webhook_endpoints w on ${listening(type, sql`ev.tenant_id`)}
      returning endpoint_id, event_id, outbox_id
    )
    insert into outbox (id, channel, tenant_id, user_id, kind, to_address, subject, next_attempt_at, created_at)
    select d.outbox_id, 'http', ev.tenant_id, ev.user_id, ${WEBHOOK_KIND}, w.url, '', ${when}::timestamptz, ${when}::timestamptz
    from d join ev on ev.id = d.event_id join webhook_endpoints w on w.id = d.endpoint_id`;
}

export interface AuditedChange { type: string; tenantId?: string | null; userId?: string | null; data?: Data; }

/**
 * The audit line's INSERT, extended with the events it stands for (audit.ts calls it). Unmapped
 * types, and changes without a tenant, come back as the plain INSERT.
 */
export function withWebhookEvents(auditLine: SQL, at: Date, change: AuditedChange): SQL {
  const mapping = FROM_AUDIT[change.type];
  if (!mapping || !change.tenantId) return auditLine;
  const extra = mapping.data?.(change.data ?? {}) ?? {};
  let users: SQL;
  if (change.userId) users = sql`u.id = ${change.userId}::uuid`;
  // An import audits once for the batch: its users are this tenant's rows made by this transaction.
  else if (change.type === 'users_imported') {
    users = sql`u.tenant_id = ${change.tenantId}::uuid and u.created_at = ${at.toISOString()}::timestamptz and u.xmin = xid(pg_current_xact_id())`;
  } else return auditLine;
  return queueEvents(sql`with a as (${auditLine}),`, mapping.event, at, change.tenantId, users, extra);
}
