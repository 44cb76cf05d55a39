// All SQL of the reset flow. Only keyed hashes of tokens and codes are stored. The accounts a
// token covers are looked up through accounts (../accounts/store.ts), which owns the users table.
import { and, desc, eq, gt, gte, inArray, isNull, sql } from 'drizzle-orm';
import { batched } from '../../platform/batch.ts';
import { oncePerDatabase, rowsOf, type Db } from '../../platform/db.ts';
import type { Admitted } from '../../platform/rate-limit.ts';
import { resetRequests, resetTokens } from '../../platform/schema.ts';

export type ResetToken = typeof resetTokens.$inferSelect;

export async function tokenByHash(db: Db, tokenHash: string): Promise<ResetToken | undefined> {
  const [row] = await db.select().from(resetTokens).where(eq(resetTokens.tokenHash, tokenHash));
  return row;
}

export async function tokenById(db: Db, id: string): Promise<ResetToken | undefined> {
  const [row] = await db.select().from(resetTokens).where(eq(resetTokens.id, id));
  return row;
}

export async function tokenByEmailAndCode(db: Db, email: string, codeHash: string): Promise<ResetToken | undefined> {
  const [row] = await db
    .select()
    .from(resetTokens)
    .where(and(eq(resetTokens.emailCanonical, email), eq(resetTokens.codeHash, codeHash)))
    .orderBy(desc(resetTokens.createdAt))
    .limit(1);
  return row;
}

/** Counts a wrong code against the newest live token of this address; returns the new count. */
export async function countWrongCode(db: Db, email: string, now: Date): Promise<number | null> {
  const [row] = await db
    .update(resetTokens)
    .set({ codeAttempts: sql`${resetTokens.codeAttempts} + 1` })
    .where(sql`${resetTokens.id} = (
      select id from reset_tokens
      where email_canonical = ${email} and used_at is null and superseded_at is null
        and revoked_at is null and expires_at > ${now}
      order by created_at desc limit 1)`)
    .returning({ attempts: resetTokens.codeAttempts });
  return row?.attempts ?? null;
}

/** The newest self-service token of this address made since `since` and still live, if any. */
export async function recentSelfToken(db: Db, email: string, since: Date): Promise<ResetToken | undefined> {
  const [row] = await db
    .select()
    .from(resetTokens)
    .where(and(
      eq(resetTokens.emailCanonical, email), eq(resetTokens.origin, 'self'), gte(resetTokens.createdAt, since),
      isNull(resetTokens.usedAt), isNull(resetTokens.supersededAt), isNull(resetTokens.revokedAt),
    ))
    .orderBy(desc(resetTokens.createdAt))
    .limit(1);
  return row;
}

/** Tokens in one INSERT; each caller made its row's id, so none depends on RETURNING's order. */
export async function insertTokens(tx: Db, values: (typeof resetTokens.$inferInsert & { id: string })[]): Promise<void> {
  if (values.length > 0) await tx.insert(resetTokens).values(values);
}

/**
 * The newest live token of each of these addresses that covers this tenant: the admin console's
 * "pending reset". A newer token supersedes the older ones, so there is at most one anyway.
 */
export async function liveTokensOf(db: Db, tenantId: string, emails: string[], now: Date): Promise<ResetToken[]> {
  if (emails.length === 0) return [];
  return db
    .selectDistinctOn([resetTokens.emailCanonical])
    .from(resetTokens)
    .where(and(
      inArray(resetTokens.emailCanonical, emails),
      sql`${resetTokens.tenantIds} @> ${JSON.stringify([tenantId])}::jsonb`,
      isNull(resetTokens.usedAt), isNull(resetTokens.supersededAt), isNull(resetTokens.revokedAt),
      gt(resetTokens.expiresAt, now),
    ))
    .orderBy(resetTokens.emailCanonical, desc(resetTokens.createdAt));
}

/**
 * A newer token supersedes the older unused tokens of the same address whose accounts it covers
 * too: per account, not per address. An admin of another tenant who gives someone's address to an
 * account of their own cannot kill that person's links elsewhere. `by` tells the older link's page
 * whether the newer one was emailed or handed over by an admin.
 */
export async function supersedeTokens(tx: Db, newer: { email: string; tenantIds: string[]; by: 'email' | 'link' }[], at: Date): Promise<void> {
  if (newer.length === 0) return;
  const list = JSON.stringify(newer.map((n) => ({ email: n.email, tenants: n.tenantIds, by: n.by })));
  const when = at.toISOString();
  // An expired link stays "expired" (with when it expired), not "superseded" by a later one.
  await tx.execute(sql`update reset_tokens t set superseded_at = ${when}::timestamptz, superseded_by = n.by
    from jsonb_to_recordset(${list}::jsonb) as n(email text, tenants jsonb, by text)
    where t.email_canonical = n.email and t.tenant_ids <@ n.tenants and t.expires_at > ${when}::timestamptz
      and t.used_at is null and t.superseded_at is null and t.revoked_at is null`);
}

/**
 * Single use: the UPDATE matches only a live token, so of many concurrent submits exactly one
 * gets a row back; the others see 0 rows and are refused.
 */
export async function consumeToken(tx: Db, id: string, now: Date): Promise<boolean> {
  const rows = await tx
    .update(resetTokens)
    .set({ usedAt: now })
    .where(and(
      eq(resetTokens.id, id),
      isNull(resetTokens.usedAt), isNull(resetTokens.supersededAt), isNull(resetTokens.revokedAt),
      gt(resetTokens.expiresAt, now),
    ))
    .returning({ id: resetTokens.id });
  return rows.length === 1;
}

/** Pending links die when the account's password or email changes or the account is disabled. */
export async function revokeTokensFor(tx: Db, email: string, tenantId: string, at: Date, reason: string): Promise<void> {
  await tx
    .update(resetTokens)
    .set({ revokedAt: at, revokedReason: reason })
    .where(and(
      eq(resetTokens.emailCanonical, email),
      sql`${resetTokens.tenantIds} @> ${JSON.stringify([tenantId])}::jsonb`,
      isNull(resetTokens.usedAt), isNull(resetTokens.supersededAt), isNull(resetTokens.revokedAt),
    ));
}

export interface PendingRequest { id: number; email_canonical: string; tenant_slug: string | null; ip: string | null; }

/**
 * Claims unresolved requests, oldest first; one whose worker died (lease passed) is claimed again
 * by another. Only open requests are in the table (closing deletes them), read through an index
 * of open ones.
 */
export async function claimRequests(db: Db, now: Date, batch: number, leaseMs: number): Promise<PendingRequest[]> {
  const res = await db.execute(sql`
    update reset_requests set lease_until = ${new Date(now.getTime() + leaseMs)}
    where id in (
      select id from reset_requests
      where processed_at is null and (lease_until is null or lease_until < ${now})
      order by id limit ${batch}
      for update skip locked)
    returning id, email_canonical, tenant_slug, ip`);
  return (res as unknown as { rows: PendingRequest[] }).rows;
}

/** Hands claimed requests back at once (shutdown), instead of after the lease. */
export async function releaseRequests(db: Db, ids: number[]): Promise<void> {
  if (ids.length > 0) await db.update(resetRequests).set({ leaseUntil: null }).where(and(inArray(resetRequests.id, ids), isNull(resetRequests.processedAt)));
}

/**
 * Closes requests that are still open; returns the ids this call closed. A closed request is
 * deleted: what it led to is in the audit log and the outbox, and an address someone typed (maybe
 * nobody's) is not kept. Inside a request's transaction it is the first statement: a second worker
 * that claimed the same request after a lapsed lease waits on the row, then gets nothing back and
 * skips it — one email, never two.
 */
export async function closeRequests(tx: Db, ids: number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await tx.delete(resetRequests)
    .where(and(inArray(resetRequests.id, ids), isNull(resetRequests.processedAt)))
    .returning({ id: resetRequests.id });
  return rows.map((r) => r.id);
}

/**
 * Deletes at most `batch` requests an earlier build resolved and kept (it marked them processed);
 * returns how many. Rows another statement holds are left for the next run.
 */
export async function sweepResolvedRequests(db: Db, batch = 1000): Promise<number> {
  const rows = rowsOf<{ n: number }>(await db.execute(sql`
    with gone as (
      delete from reset_requests where id in (
        select id from reset_requests where processed_at is not null limit ${batch} for update skip locked)
      returning 1)
    select count(*)::int as n from gone`));
  return rows[0]?.n ?? 0;
}

type RequestRow = typeof resetRequests.$inferInsert;

/** A recorded request's columns, as both ways of recording it write them. */
const REQUEST_COLUMNS: Admitted<RequestRow>['insert']['columns'] = [
  { name: 'email_canonical', type: 'text', of: (r) => r.emailCanonical },
  { name: 'tenant_slug', type: 'text', of: (r) => r.tenantSlug ?? null },
  { name: 'ip', type: 'text', of: (r) => r.ip ?? null },
  { name: 'created_at', type: 'timestamptz', of: (r) => r.createdAt.toISOString() },
];
const REQUEST_INSERT = sql.raw(`insert into reset_requests (${REQUEST_COLUMNS.map((c) => c.name).join(', ')}) select * from unnest(`);

/**
 * How a forgot-password request is recorded once its limits admit it (guardForgot): on PostgreSQL
 * without Redis by the statement that counts it; elsewhere by one INSERT that concurrent requests
 * share (group commit). Either way it resolves once the row is committed.
 */
export const requestRecorder = oncePerDatabase((db): Admitted<RequestRow>['insert'] => ({
  table: 'reset_requests',
  columns: REQUEST_COLUMNS,
  write: batched((rows: RequestRow[]) => insertRequests(db, rows)),
}));

/**
 * One statement of the same text for any number of rows (one array a column): building a
 * multi-row INSERT through the query builder cost a tenth of a forgot-password request's CPU.
 */
async function insertRequests(db: Db, rows: RequestRow[]): Promise<void> {
  const columns = REQUEST_COLUMNS.map((c) => sql`${sql.param(rows.map(c.of))}::${sql.raw(c.type)}[]`);
  await db.execute(sql`${REQUEST_INSERT}${sql.join(columns, sql`, `)})`);
}
