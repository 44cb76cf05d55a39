// All SQL of the users table. Accounts own user data: other features ask through these functions,
// one per lookup, and never query users themselves. A write that belongs to another feature's
// transaction (setting a password, locking) takes that transaction's handle.
import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { isUuid } from '../../platform/http.ts';
import { oncePerDatabase, type Db } from '../../platform/db.ts';
import { tenants, users } from '../../platform/schema.ts';
import type { Tenant } from '../tenants/store.ts';

export type User = typeof users.$inferSelect;
/** A user with the tenant it belongs to: one address may have an account in several tenants. */
export interface Account { user: User; tenant: Tenant; }
export const ROLES = ['admin', 'supervisor', 'member'] as const;
export type Role = (typeof ROLES)[number];
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

/** How many enabled admins this tenant has besides this user. */
export async function otherEnabledAdmins(db: Db, tenantId: string, userId: string): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(users)
    .where(and(eq(users.tenantId, tenantId), eq(users.role, 'admin'), isNull(users.disabledAt), sql`${users.id} <> ${userId}::uuid`));
  return row?.n ?? 0;
}

/** These users of this tenant, by id (ids must be UUIDs; other tenants' ids find nothing). */
export async function usersByIds(db: Db, tenantId: string, ids: string[]): Promise<Map<string, User>> {
  const valid = ids.filter((x) => isUuid(x));
  if (valid.length === 0) return new Map();
  const rows = await db.select().from(users).where(and(eq(users.tenantId, tenantId), inArray(users.id, valid)));
  return new Map(rows.map((r) => [r.id, r]));
}


/** The stored addresses of these users of this tenant, by id (ids must be UUIDs). */
export async function emailsOfUsers(db: Db, tenantId: string, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.select({ id: users.id, email: users.email }).from(users)
    .where(and(eq(users.tenantId, tenantId), inArray(users.id, ids)));
  return new Map(rows.map((r) => [r.id, r.email]));
}

/**
 * Name, address and role of these users by id (ids must be UUIDs), in one query: within one tenant,
 * or across tenants for the operator (tenantId null). An id not found is an erased (or never) user.
 */
export async function peopleOfUsers(db: Db, tenantId: string | null, ids: string[]): Promise<Map<string, { name: string; email: string; role: Role }>> {
  const rows = await db.select({ id: users.id, name: users.name, email: users.email, role: users.role }).from(users)
    .where(tenantId ? and(eq(users.tenantId, tenantId), inArray(users.id, ids)) : inArray(users.id, ids));
  return new Map(rows.map((r) => [r.id, { name: r.name, email: r.email, role: r.role as Role }]));
}

/** Which of these canonical addresses are users of this tenant: one query (one array parameter) for a whole file. */
export async function takenAddresses(db: Db, tenantId: string, emails: string[]): Promise<Set<string>> {
  if (emails.length === 0) return new Set();
  const rows = await db.select({ e: users.emailCanonical }).from(users)
    .where(and(eq(users.tenantId, tenantId), sql`${users.emailCanonical} = any(${sql.param(emails)}::text[])`));
  return new Set(rows.map((r) => r.e));
}

export interface UserFilter {
  q?: string; after?: string; status?: UserStatus; role?: Role;
  /** Has an active second factor (on) or none (off). */
  mfa?: 'on' | 'off';
  /** Can sign in with a password, with Google, or has no way yet (none: created, never set one). */
  method?: 'password' | 'google' | 'none';
  /** Last sign-in more than this many days before `now`, or never. */
  inactiveDays?: number;
  now?: Date;
}

// Two and three of the console's filters are about other features' rows; asked here as EXISTS on
// their user_id indexes so that one query pages the users.
const hasActiveFactor = sql`exists (select 1 from mfa_factors f where f.user_id = ${users.id} and f.status = 'active')`;
const hasIdentity = sql`exists (select 1 from sso_identities i where i.user_id = ${users.id})`;

function whereOf(tenantId: string, filter: UserFilter): SQL | undefined {
  const where: (SQL | undefined)[] = [eq(users.tenantId, tenantId)];
  if (filter.q) {
    // The same expression as the trigram index users_search_trgm (migration 0014).
    const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(sql`(${users.email} || ' ' || ${users.name}) ilike ${pattern}`);
  }
  if (filter.status === 'disabled') where.push(isNotNull(users.disabledAt));
  if (filter.status === 'locked') where.push(isNull(users.disabledAt), isNotNull(users.lockedAt));
  if (filter.status === 'active') where.push(isNull(users.disabledAt), isNull(users.lockedAt));
  if (filter.role) where.push(eq(users.role, filter.role));
  if (filter.mfa) where.push(filter.mfa === 'on' ? hasActiveFactor : sql`not ${hasActiveFactor}`);
  if (filter.method === 'password') where.push(isNotNull(users.passwordHash));
  if (filter.method === 'google') where.push(hasIdentity);
  if (filter.method === 'none') where.push(isNull(users.passwordHash), sql`not ${hasIdentity}`);
  if (filter.inactiveDays !== undefined) {
    const before = new Date((filter.now ?? new Date()).getTime() - filter.inactiveDays * 86_400_000);
    where.push(or(isNull(users.lastLoginAt), lt(users.lastLoginAt, before)));
  }
  return and(...where);
}

/**
 * Up to `limit` users of this tenant in canonical-email order, after `after` (keyset pagination on
 * the (tenant_id, email_canonical) unique index): the first page and the fortieth cost the same.
 */
export async function usersPage(db: Db, tenantId: string, filter: UserFilter, limit: number): Promise<User[]> {
  const where = whereOf(tenantId, filter);
  return db.select().from(users)
    .where(filter.after ? and(where, gt(users.emailCanonical, filter.after)) : where)
    .orderBy(asc(users.emailCanonical)).limit(limit);
}

/** How many users of this tenant match the filter (`after` aside): the list's "N users". */
export async function countUsers(db: Db, tenantId: string, filter: UserFilter): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(users).where(whereOf(tenantId, filter));
  return row?.n ?? 0;
}

/**
 * Whether a write failed on this unique index of the users table (the driver's error may come
 * wrapped: drizzle's query error carries it as `cause`).
 */
export function violatesIndex(e: unknown, index: 'users_tenant_email' | 'users_tenant_external_id'): boolean {
  const err = e as { constraint?: string; cause?: { constraint?: string } };
  return (err.constraint ?? err.cause?.constraint) === index;
}

// ── writes ─────────────────────────────────────────────────────────────────────────────────────

/** The new user, or undefined when the address is taken in that tenant. */
export async function insertUser(tx: Db, values: typeof users.$inferInsert): Promise<User | undefined> {
  const [row] = await tx.insert(users).values(values).onConflictDoNothing().returning();
  return row;
}

/** The users made; an address taken meanwhile in that tenant is left out (not an error). */
export async function insertUsers(tx: Db, values: (typeof users.$inferInsert)[]): Promise<User[]> {
  return tx.insert(users).values(values).onConflictDoNothing().returning();
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

// ── provisioning (SCIM) ────────────────────────────────────────────────────────────────────────

/** A user of this tenant by the identity provider's id (the (tenant_id, external_id) unique index). */
export async function userByExternalId(db: Db, tenantId: string, externalId: string): Promise<User | undefined> {
  const [row] = await db.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.externalId, externalId)));
  return row;
}

/**
 * A page of this tenant's users in a stable order (created_at, id) on the users_tenant_created
 * index, `offset` rows in, with how many there are in all: the shape SCIM's startIndex/count take.
 */
export async function usersByCreation(db: Db, tenantId: string, offset: number, limit: number): Promise<{ total: number; rows: User[] }> {
  const [counted] = await db.select({ n: sql<number>`count(*)::int` }).from(users).where(eq(users.tenantId, tenantId));
  // The offset is walked on the index alone (ids only), then just the page's rows are read: a page
  // deep in 100,000 users costs what skipping index entries costs, not reading 50,000 rows.
  const page = db.select({ id: users.id }).from(users).where(eq(users.tenantId, tenantId))
    .orderBy(asc(users.createdAt), asc(users.id)).offset(offset).limit(limit).as('page');
  const rows = limit === 0 ? [] : (await db.select({ user: users }).from(users).innerJoin(page, eq(page.id, users.id))
    .orderBy(asc(users.createdAt), asc(users.id))).map((r) => r.user);
  return { total: counted?.n ?? 0, rows };
}

/** Sets the identity provider's id of a user made in this transaction (createUser's alsoInTx). */
export async function setExternalId(tx: Db, tenantId: string, id: string, externalId: string | null): Promise<User | undefined> {
  const [row] = await tx.update(users).set({ externalId }).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).returning();
  return row;
}
