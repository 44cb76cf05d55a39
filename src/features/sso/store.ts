// All SQL of single sign-on: started sign-ins (single use) and linked identities. The accounts
// behind them are looked up through accounts (../accounts/store.ts), which owns the users table.
import { and, asc, eq, gt, inArray, isNull, lt } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import { ssoIdentities, ssoStates } from '../../platform/schema.ts';

export type SsoState = typeof ssoStates.$inferSelect;
export type SsoIdentity = typeof ssoIdentities.$inferSelect;

export async function insertState(db: Db, values: typeof ssoStates.$inferInsert): Promise<void> {
  await db.insert(ssoStates).values(values);
}

/**
 * Single use: the UPDATE matches only an unused, unexpired state of this tenant, so a replayed
 * callback (or two racing ones) gets no row back and is refused.
 */
export async function consumeState(db: Db, tenantId: string, stateHash: string, now: Date): Promise<SsoState | undefined> {
  const [row] = await db
    .update(ssoStates)
    .set({ usedAt: now })
    .where(and(
      eq(ssoStates.stateHash, stateHash), eq(ssoStates.tenantId, tenantId),
      isNull(ssoStates.usedAt), gt(ssoStates.expiresAt, now),
    ))
    .returning();
  return row;
}

/** Started sign-ins nobody finished are useless once expired. */
export async function purgeStates(db: Db, now: Date): Promise<void> {
  await db.delete(ssoStates).where(lt(ssoStates.expiresAt, now));
}

/** The link of (issuer, subject) in this tenant. */
export async function identityBySubject(db: Db, tenantId: string, issuer: string, subject: string): Promise<SsoIdentity | undefined> {
  const [row] = await db.select().from(ssoIdentities)
    .where(and(eq(ssoIdentities.tenantId, tenantId), eq(ssoIdentities.issuer, issuer), eq(ssoIdentities.subject, subject)));
  return row;
}

export async function identityOf(db: Db, userId: string, issuer: string): Promise<SsoIdentity | undefined> {
  const [row] = await db.select().from(ssoIdentities).where(and(eq(ssoIdentities.userId, userId), eq(ssoIdentities.issuer, issuer)));
  return row;
}

/** Links on first use; null when another account won a race for the same subject (or this account got another). */
export async function insertIdentity(db: Db, values: typeof ssoIdentities.$inferInsert): Promise<SsoIdentity | null> {
  const [row] = await db.insert(ssoIdentities).values(values).onConflictDoNothing().returning();
  return row ?? null;
}

export async function touchIdentity(db: Db, id: string, at: Date): Promise<void> {
  await db.update(ssoIdentities).set({ lastUsedAt: at }).where(eq(ssoIdentities.id, id));
}

export async function identitiesOfUser(db: Db, tenantId: string, userId: string): Promise<SsoIdentity[]> {
  return db.select().from(ssoIdentities)
    .where(and(eq(ssoIdentities.tenantId, tenantId), eq(ssoIdentities.userId, userId)))
    .orderBy(asc(ssoIdentities.createdAt));
}

/** Which of these users (of one tenant) have a linked identity: the admin list's sign-in methods. */
export async function usersWithIdentity(db: Db, tenantId: string, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db.selectDistinct({ userId: ssoIdentities.userId }).from(ssoIdentities)
    .where(and(eq(ssoIdentities.tenantId, tenantId), inArray(ssoIdentities.userId, userIds)));
  return new Set(rows.map((r) => r.userId));
}

export async function deleteIdentity(db: Db, tenantId: string, userId: string, id: string): Promise<SsoIdentity | undefined> {
  const [row] = await db.delete(ssoIdentities)
    .where(and(eq(ssoIdentities.tenantId, tenantId), eq(ssoIdentities.userId, userId), eq(ssoIdentities.id, id)))
    .returning();
  return row;
}

export const identityView = (i: SsoIdentity) => ({
  id: i.id,
  issuer: i.issuer,
  subject: i.subject,
  emailAtLink: i.emailAtLink,
  linkedAt: i.createdAt.toISOString(),
  lastUsedAt: i.lastUsedAt?.toISOString() ?? null,
});
