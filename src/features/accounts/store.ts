// All SQL of the users table. Accounts own user data: other features ask through these functions,
// one per lookup, and never query users themselves. A write that belongs to another feature's
// transaction (setting a password, locking) takes that transaction's handle.
import { and, asc, eq, gt, ilike, inArray, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm';
import { oncePerDatabase, type Db } from '../../platform/db.ts';
import { tenants, users } from '../../platform/schema.ts';
import type { Tenant } from '../tenants/store.ts';

export type User = typeof users.$inferSelect;
/** A user with the tenant it belongs to: one address may have an account in several tenants. */
export interface Account { user: User; tenant: Tenant; }
export type Role = 'admin' | 'member';
export type UserStatus = 'active' | 'disabled' | 'locked';

// ── lookups ────────────────────────────────────────────────────────────────────────────────────

/** A user of this tenant by id (a UUID): another tenant's id finds nothing. */
export async function userById(db: Db, tenantId: string, id: string): Promise<User | undefined> {
  const [row] = await db.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, id)));
  return row;
}

/** A user of this tenant by canonical email. */
export async function userByEmail(db: Db, tenantId: string, emailCanonical: string): Promise<User | undefined> {
  const [row] = await db.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.emailCanonical, emailCanonical)));
  return row;
}

/** A user by id with its tenant, whichever tenant that is (the signed-in user, a lock link's user). */
export async function accountById(db: Db, userId: string): Promise<Account | undefined> {
  const [row] = await db
    .select({ user: users, tenant: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(eq(users.id, userId));
  return row;
}

/**
 * The accounts a sign-in may be for: an address's enabled accounts, in one tenant or in all.
 * Locked ones come too, so that the right password can be told the account is locked. Prepared
 * once per database (one per with/without tenant): sign-in is the hottest lookup there is.
 */
function signInCandidatesQuery(db: Db, inTenant: boolean) {
  return db
    .select({ user: users, tenant: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(and(
      eq(users.emailCanonical, sql.placeholder('email')),
      isNull(users.disabledAt),
      inTenant ? eq(tenants.slug, sql.placeholder('tenant')) : undefined,
    ))
    .prepare(inTenant ? 'keyturn_sign_in_tenant' : 'keyturn_sign_in');
}
const candidatesInTenant = oncePerDatabase((db) => signInCandidatesQuery(db, true));
const candidatesAnywhere = oncePerDatabase((db) => signInCandidatesQuery(db, false));

export function signInCandidates(db: Db, email: string, tenantSlug?: string): Promise<Account[]> {
  return tenantSlug ? candidatesInTenant(db).execute({ email, tenant: tenantSlug }) : candidatesAnywhere(db).execute({ email });
}

/** The account of this address in this tenant, among these ids (a tenant-choice ticket's). */
export async function accountAmong(db: Db, userIds: string[], email: string, tenantSlug: string): Promise<Account | undefined> {
  const [row] = await db
    .select({ user: users, tenant: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(and(inArray(users.id, userIds), eq(users.emailCanonical, email), eq(tenants.slug, tenantSlug)));
  return row;
}

/** Accounts with this canonical address (in these tenants, or anywhere), with their tenants. */
export async function accountsByEmail(db: Db, email: string, opts: { tenantIds?: string[]; tenantSlug?: string } = {}): Promise<Account[]> {
  if (opts.tenantIds && opts.tenantIds.length === 0) return [];
  const rows = await db
    .select({ user: users, tenant: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(and(
      eq(users.emailCanonical, email),
      opts.tenantIds ? inArray(users.tenantId, opts.tenantIds) : undefined,
      opts.tenantSlug ? eq(tenants.slug, opts.tenantSlug) : undefined,
    ))
    .orderBy(tenants.name);
  return rows;
}

/** Which of these canonical addresses have an account in any tenant (one query for a batch). */
export async function addressesWithAccounts(db: Db, emails: string[]): Promise<Set<string>> {
  if (emails.length === 0) return new Set();
  const rows = await db.selectDistinct({ email: users.emailCanonical }).from(users).where(inArray(users.emailCanonical, emails));
  return new Set(rows.map((r) => r.email));
}

/** The stored addresses of these users of this tenant, by id (ids must be UUIDs). */
export async function emailsOfUsers(db: Db, tenantId: string, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.select({ id: users.id, email: users.email }).from(users)
    .where(and(eq(users.tenantId, tenantId), inArray(users.id, ids)));
  return new Map(rows.map((r) => [r.id, r.email]));
}

/** The canonical addresses of every user of this tenant. */
export async function canonicalEmailsOf(db: Db, tenantId: string): Promise<Set<string>> {
  const rows = await db.select({ e: users.emailCanonical }).from(users).where(eq(users.tenantId, tenantId));
  return new Set(rows.map((r) => r.e));
}

export interface UserFilter { q?: string; after?: string; status?: UserStatus; role?: Role; }

/**
 * Up to `limit` users of this tenant in canonical-email order, after `after` (keyset pagination on
 * the (tenant_id, email_canonical) unique index). A search (ILIKE '%q%') cannot use the index, so
 * it scans the tenant's rows in index order and stops at the limit.
 */
export async function usersPage(db: Db, tenantId: string, filter: UserFilter, limit: number): Promise<User[]> {
  const where: (SQL | undefined)[] = [eq(users.tenantId, tenantId)];
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(or(ilike(users.email, pattern), ilike(users.name, pattern)));
  }
  if (filter.status === 'disabled') where.push(isNotNull(users.disabledAt));
  if (filter.status === 'locked') where.push(isNull(users.disabledAt), isNotNull(users.lockedAt));
  if (filter.status === 'active') where.push(isNull(users.disabledAt), isNull(users.lockedAt));
  if (filter.role) where.push(eq(users.role, filter.role));
  if (filter.after) where.push(gt(users.emailCanonical, filter.after));
  return db.select().from(users).where(and(...where)).orderBy(asc(users.emailCanonical)).limit(limit);
}

// ── writes ─────────────────────────────────────────────────────────────────────────────────────

/** The new user, or undefined when the address is taken in that tenant. */
export async function insertUser(tx: Db, values: typeof users.$inferInsert): Promise<User | undefined> {
  const [row] = await tx.insert(users).values(values).onConflictDoNothing().returning();
  return row;
}

export async function insertUsers(tx: Db, values: (typeof users.$inferInsert)[]): Promise<void> {
  await tx.insert(users).values(values);
}

/** The user as it is after the change, or undefined when this tenant has no such user. */
export async function updateUserRow(tx: Db, tenantId: string, id: string, set: Partial<User>): Promise<User | undefined> {
  const [row] = await tx.update(users).set(set).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).returning();
  return row;
}

/** Sets the password of these users (a reset may cover one address's accounts in several tenants). */
export async function setPasswordHash(tx: Db, userIds: string[], passwordHash: string, at: Date): Promise<void> {
  await tx.update(users).set({ passwordHash, passwordChangedAt: at }).where(inArray(users.id, userIds));
}

/** "This wasn't me": the account is locked until an admin unlocks it. */
export async function lockUser(tx: Db, userId: string, at: Date): Promise<void> {
  await tx.update(users).set({ lockedAt: at }).where(eq(users.id, userId));
}
