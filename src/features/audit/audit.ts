import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { csvLine } from '../../platform/csv.ts';
import type { Db } from '../../platform/db.ts';
import { auditEvents } from '../../platform/schema.ts';
import { eventOfAudit, withWebhookEvents } from '../webhooks/events.ts';

export interface Actor { type: 'user' | 'admin' | 'operator' | 'system'; id?: string | null; ip?: string | null; }

export interface AuditEvent {
  type: string;
  tenantId?: string | null;
  userId?: string | null;
  data?: Record<string, unknown>;
}

/**
 * The INSERT of one audit line, also for a caller that writes it within a larger statement. Plain
 * SQL of fixed text: through the query builder, composing it cost more CPU than the write.
 */
export function auditInsert(actor: Actor, at: Date, event: AuditEvent): SQL {
  return sql`insert into audit_events (${AUDIT_COLUMNS}) values ${auditValues(actor, at, event)}`;
}

const AUDIT_COLUMNS = sql.raw('tenant_id, user_id, actor_type, actor_id, ip, type, data, created_at');

const auditValues = (actor: Actor, at: Date, event: AuditEvent): SQL =>
  sql`(${event.tenantId ?? null}::uuid, ${event.userId ?? null}::uuid, ${actor.type}, ${actor.id ?? null}, ${actor.ip ?? null},
      ${event.type}, ${JSON.stringify(event.data ?? {})}::jsonb, ${at.toISOString()}::timestamptz)`;

/**
 * Written inside the transaction of the change it records: no change without its audit line. A
 * change the platform hears about (webhooks/events.ts maps audit types to webhook events) queues
 * its events in the same statement; a caller that writes `auditInsert` inside its own statement
 * does so only for types no event stands for (signed_in).
 */
export async function audit(tx: Db, actor: Actor, at: Date, event: AuditEvent): Promise<void> {
  await tx.execute(withWebhookEvents(auditInsert(actor, at, event), at, event));
}

/**
 * Many lines of types no webhook event stands for in one INSERT (an import's welcome emails); a
 * line an event stands for is written as audit() writes it, with its event.
 */
export async function auditAll(tx: Db, at: Date, lines: { actor: Actor; event: AuditEvent }[]): Promise<void> {
  const plain = lines.filter((l) => eventOfAudit(l.event.type) === undefined);
  if (plain.length > 0) await tx.execute(sql`insert into audit_events (${AUDIT_COLUMNS}) values ${sql.join(plain.map((l) => auditValues(l.actor, at, l.event)), sql`, `)}`);
  for (const l of lines) if (eventOfAudit(l.event.type) !== undefined) await audit(tx, l.actor, at, l.event);
}

/** Every type of event written, for filters (the admin console's type list). */
export const AUDIT_TYPES = [
  'user_created', 'users_imported', 'user_renamed', 'email_changed', 'role_changed', 'user_disabled', 'user_enabled',
  'user_locked', 'user_unlocked', 'user_erased', 'sessions_revoked', 'session_ended', 'signed_in', 'signed_out', 'sign_in_paused',
  'password_reset_requested', 'password_reset_coalesced', 'password_reset_refused', 'admin_reset_issued',
  'password_reset_completed', 'password_changed', 'identity_linked', 'identity_unlinked', 'tenant_created', 'tenant_updated',
  'mfa_factor_added', 'mfa_factor_removed', 'mfa_recovery_codes_renewed', 'mfa_recovery_code_used', 'mfa_reset',
  'oidc_client_created', 'oidc_client_deleted', 'oidc_key_rotated',
  'webhook_created', 'webhook_updated', 'webhook_deleted', 'webhook_disabled', 'webhook_redelivered',
  'external_id_changed', 'scim_token_created', 'scim_token_revoked',
] as const;

/** Who can stand behind an event: the person themselves, a tenant's staff, the operator, Keyturn (and SCIM). */
export const ACTOR_TYPES = ['user', 'admin', 'operator', 'system'] as const;

export interface AuditFilter {
  tenantId?: string; userId?: string; type?: string; actorType?: Actor['type'];
  /** Written at or after `from`, before `to`. */
  from?: Date; to?: Date;
  before?: number; limit?: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MOMENT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A `from` or `to` of a filter as people type it: a day (2025-05-01, UTC) or an ISO moment; null when
 * it is neither. A day as `to` takes in that whole day, so from=to=one day is that day.
 */
export function auditTime(value: string, edge: 'from' | 'to'): Date | null {
  if (!DAY.test(value) && !MOMENT.test(value)) return null;
  const at = new Date(DAY.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(at.getTime()) || (DAY.test(value) && at.toISOString().slice(0, 10) !== value)) return null;
  return edge === 'to' && DAY.test(value) ? new Date(at.getTime() + 86_400_000) : at;
}

/**
 * A page of events, newest first, `before` an id (keyset). Each query reads one index in id order:
 * (tenant_id, id) or (user_id, id); a time range on a tenant can use (tenant_id, created_at) instead.
 */
export async function listAudit(db: Db, filter: AuditFilter) {
  const where: SQL[] = [];
  if (filter.tenantId) where.push(eq(auditEvents.tenantId, filter.tenantId));
  if (filter.userId) where.push(eq(auditEvents.userId, filter.userId));
  if (filter.type) where.push(eq(auditEvents.type, filter.type));
  if (filter.actorType) where.push(eq(auditEvents.actorType, filter.actorType));
  if (filter.from) where.push(gte(auditEvents.createdAt, filter.from));
  if (filter.to) where.push(lt(auditEvents.createdAt, filter.to));
  if (filter.before) where.push(lt(auditEvents.id, filter.before));
  const rows = await db
    .select()
    .from(auditEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditEvents.id))
    .limit(Math.min(filter.limit ?? 100, 1000));
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    tenantId: r.tenantId,
    userId: r.userId,
    actor: { type: r.actorType, id: r.actorId },
    ip: r.ip,
    data: r.data,
    at: r.createdAt.toISOString(),
  }));
}

export type AuditView = Awaited<ReturnType<typeof listAudit>>[number];

/** CSV columns of an export (the CLI's `audit export --format csv` and the admin download). */
export const AUDIT_CSV_COLUMNS = ['id', 'at', 'type', 'tenantId', 'userId', 'actor', 'ip', 'data'] as const;
export const auditCsvLine = (e: AuditView) =>
  csvLine(AUDIT_CSV_COLUMNS.map((c) => (c === 'actor' ? `${e.actor.type}:${e.actor.id ?? ''}` : e[c])));

/**
 * Every matching event, newest first, as CSV or JSON Lines text, a thousand rows per query: an
 * export of any size streams in constant memory.
 */
export async function* exportAudit(db: Db, filter: Omit<AuditFilter, 'before' | 'limit'>, format: 'csv' | 'jsonl'): AsyncGenerator<string> {
  const PAGE = 1000;
  if (format === 'csv') yield `${AUDIT_CSV_COLUMNS.join(',')}\n`;
  let before: number | undefined;
  for (;;) {
    const page = await listAudit(db, { ...filter, before, limit: PAGE });
    if (page.length > 0) yield page.map((e) => `${format === 'csv' ? auditCsvLine(e) : JSON.stringify(e)}\n`).join('');
    if (page.length < PAGE) return;
    before = page[page.length - 1]!.id;
  }
}
