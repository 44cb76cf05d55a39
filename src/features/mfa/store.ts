// All SQL of second factors, recovery codes and second-step tickets. Every write that must happen
// once (a TOTP time step, a recovery code, a ticket) is one conditional UPDATE whose row count decides.
import { and, asc, count, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import { mfaFactors, mfaTickets, recoveryCodes } from '../../platform/schema.ts';

export type Factor = typeof mfaFactors.$inferSelect;
export type FactorType = 'totp' | 'webauthn';
export type Ticket = typeof mfaTickets.$inferSelect;

// ── factors ────────────────────────────────────────────────────────────────────────────────────

/** The confirmed factors of an account, oldest first. */
export async function activeFactors(db: Db, userId: string): Promise<Factor[]> {
  return db.select().from(mfaFactors)
    .where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.status, 'active')))
    .orderBy(asc(mfaFactors.createdAt));
}

// Spelled out: in a one-table select drizzle leaves columns unqualified, and inside the subquery an
// unqualified user_id would be the recovery code's own.
const codesLeftOfFactorOwner = sql<number>`(select count(*) from recovery_codes r where r.user_id = mfa_factors.user_id and r.used_at is null)`.mapWith(Number);

/** The confirmed factors of an account and its unused recovery codes, in one statement (sign-in's hot path). */
export async function factorsAndCodesLeft(db: Db, userId: string): Promise<{ factors: Factor[]; codesLeft: number }> {
  const rows = await db.select({
    f: mfaFactors,
    codesLeft: codesLeftOfFactorOwner,
  }).from(mfaFactors)
    .where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.status, 'active')))
    .orderBy(asc(mfaFactors.createdAt));
  return { factors: rows.map((r) => r.f), codesLeft: rows[0]?.codesLeft ?? 0 };
}

/** The ids of the accounts among these that have at least one confirmed factor. */
export async function usersWithFactors(db: Db, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db.selectDistinct({ userId: mfaFactors.userId }).from(mfaFactors)
    .where(and(inArray(mfaFactors.userId, userIds), eq(mfaFactors.status, 'active')));
  return new Set(rows.map((r) => r.userId));
}

export interface MfaSummary { types: FactorType[]; recoveryCodesLeft: number; }

/**
 * For an admin's list of accounts, in one query: the kinds of confirmed factor each has and its
 * unused recovery codes. Accounts without a factor are not in the map.
 */
export async function mfaSummaries(db: Db, userIds: string[]): Promise<Map<string, MfaSummary>> {
  if (userIds.length === 0) return new Map();
  const rows = await db.selectDistinct({
    userId: mfaFactors.userId,
    type: mfaFactors.type,
    codesLeft: codesLeftOfFactorOwner,
  }).from(mfaFactors)
    .where(and(inArray(mfaFactors.userId, userIds), eq(mfaFactors.status, 'active')))
    .orderBy(asc(mfaFactors.userId), asc(mfaFactors.type));
  const out = new Map<string, MfaSummary>();
  for (const r of rows) {
    const s = out.get(r.userId) ?? { types: [], recoveryCodesLeft: r.codesLeft };
    s.types.push(r.type as FactorType);
    out.set(r.userId, s);
  }
  return out;
}

export async function factorById(db: Db, userId: string, id: string): Promise<Factor | undefined> {
  const [row] = await db.select().from(mfaFactors).where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.id, id)));
  return row;
}

/** A new factor; undefined when its WebAuthn credential is already registered (to anyone). */
export async function insertFactor(db: Db, row: typeof mfaFactors.$inferInsert): Promise<Factor | undefined> {
  const [inserted] = await db.insert(mfaFactors).values(row).onConflictDoNothing().returning();
  return inserted;
}

export async function labelFactor(tx: Db, id: string, label: string): Promise<void> {
  await tx.update(mfaFactors).set({ label }).where(eq(mfaFactors.id, id));
}

/** Confirms a pending TOTP factor with the time step of its first code. False when it is no longer pending. */
export async function activateTotp(tx: Db, id: string, step: number, at: Date): Promise<boolean> {
  const rows = await tx.update(mfaFactors).set({ status: 'active', lastStep: step, lastUsedAt: at })
    .where(and(eq(mfaFactors.id, id), eq(mfaFactors.status, 'pending')))
    .returning({ id: mfaFactors.id });
  return rows.length === 1;
}

/**
 * Accepts a TOTP time step once: only a step later than the last accepted one moves it. Two
 * requests with the same code race on this row; one wins.
 */
export async function acceptTotpStep(tx: Db, id: string, step: number, at: Date): Promise<boolean> {
  const rows = await tx.update(mfaFactors).set({ lastStep: step, lastUsedAt: at })
    .where(and(eq(mfaFactors.id, id), eq(mfaFactors.status, 'active'), sql`coalesce(${mfaFactors.lastStep}, -1) < ${step}`))
    .returning({ id: mfaFactors.id });
  return rows.length === 1;
}

/** A WebAuthn assertion was verified: its signature counter and the time of use. */
export async function touchWebauthn(tx: Db, id: string, signCount: number, at: Date): Promise<void> {
  await tx.update(mfaFactors).set({ signCount, lastUsedAt: at }).where(eq(mfaFactors.id, id));
}

export async function deleteFactor(tx: Db, userId: string, id: string): Promise<boolean> {
  const rows = await tx.delete(mfaFactors).where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.id, id))).returning({ id: mfaFactors.id });
  return rows.length === 1;
}

/** An account has one authenticator being added at a time: starting another drops the last. */
export async function deletePending(db: Db, userId: string): Promise<void> {
  await db.delete(mfaFactors).where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.status, 'pending')));
}

/** Every factor and recovery code of these accounts; how many factors went. */
export async function deleteAllFactors(tx: Db, userIds: string[]): Promise<number> {
  if (userIds.length === 0) return 0;
  await tx.delete(recoveryCodes).where(inArray(recoveryCodes.userId, userIds));
  const rows = await tx.delete(mfaFactors).where(and(inArray(mfaFactors.userId, userIds), eq(mfaFactors.status, 'active'))).returning({ id: mfaFactors.id });
  await tx.delete(mfaFactors).where(inArray(mfaFactors.userId, userIds));
  return rows.length;
}

// ── recovery codes ─────────────────────────────────────────────────────────────────────────────

/** Replaces an account's recovery codes with a new set (the old set stops working); an empty set removes them. */
export async function replaceRecoveryCodes(tx: Db, userId: string, hashes: string[], at: Date): Promise<void> {
  await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
  if (hashes.length === 0) return; // the last factor went: no set replaces the old one
  await tx.insert(recoveryCodes).values(hashes.map((codeHash) => ({ userId, codeHash, createdAt: at })));
}

/** Uses a recovery code once; false when it is unknown or already used. */
export async function useRecoveryCode(tx: Db, userId: string, codeHash: string, at: Date): Promise<boolean> {
  const rows = await tx.update(recoveryCodes).set({ usedAt: at })
    .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, codeHash), isNull(recoveryCodes.usedAt)))
    .returning({ id: recoveryCodes.id });
  return rows.length === 1;
}

export async function recoveryCodesLeft(db: Db, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)));
  return row?.n ?? 0;
}

// ── second-step tickets ────────────────────────────────────────────────────────────────────────

export async function insertTicket(db: Db, row: typeof mfaTickets.$inferInsert): Promise<void> {
  await db.insert(mfaTickets).values(row);
}

/** A ticket that can still be answered: unused, unexpired (it dies on its fifth wrong answer). */
export async function liveTicket(db: Db, ticketHash: string, now: Date): Promise<Ticket | undefined> {
  const [row] = await db.select().from(mfaTickets)
    .where(and(eq(mfaTickets.ticketHash, ticketHash), isNull(mfaTickets.usedAt), gt(mfaTickets.expiresAt, now)));
  return row;
}

/** Counts a wrong answer; the ticket dies at `max`. Returns the answers it has left. */
export async function failTicket(db: Db, ticketHash: string, max: number, now: Date): Promise<number> {
  const [row] = await db.update(mfaTickets)
    .set({
      failures: sql`${mfaTickets.failures} + 1`,
      usedAt: sql`case when ${mfaTickets.failures} + 1 >= ${max} then ${now.toISOString()}::timestamptz else ${mfaTickets.usedAt} end`,
    })
    .where(and(eq(mfaTickets.ticketHash, ticketHash), isNull(mfaTickets.usedAt)))
    .returning({ failures: mfaTickets.failures });
  return row ? Math.max(0, max - row.failures) : 0;
}

/** Spends a ticket once; false when another request spent it first or it died. */
export async function spendTicket(tx: Db, ticketHash: string, now: Date): Promise<boolean> {
  const rows = await tx.update(mfaTickets).set({ usedAt: now })
    .where(and(eq(mfaTickets.ticketHash, ticketHash), isNull(mfaTickets.usedAt), gt(mfaTickets.expiresAt, now)))
    .returning({ h: mfaTickets.ticketHash });
  return rows.length === 1;
}

/** Ends every open ticket of these accounts (their factors were reset, or they were signed out everywhere). */
export async function endTickets(tx: Db, userIds: string[], now: Date): Promise<void> {
  if (userIds.length === 0) return;
  await tx.update(mfaTickets).set({ usedAt: now }).where(and(inArray(mfaTickets.userId, userIds), isNull(mfaTickets.usedAt)));
}
