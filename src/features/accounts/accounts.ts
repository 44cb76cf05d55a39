// Creating and changing accounts — shared by the operator API, the tenant admin API and the CLI.
import { emailTaken, importRejected, invalidRequest, notFound } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import type { Db } from '../../platform/db.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { enforcePolicy } from '../password-policy/enforce.ts';
import { recordPassword } from '../password-policy/history.ts';
import { mfaSummaries, type FactorType } from '../mfa/store.ts';
import { liveTokensOf, revokeTokensFor } from '../password-reset/store.ts';
import { usersWithIdentity } from '../sso/store.ts';
import type { Tenant } from '../tenants/store.ts';
import { canonicalEmail, parseEmail } from './email.ts';
import {
  canonicalEmailsOf, emailsOfUsers, insertUser, insertUsers, updateUserRow, userByEmail, userById, usersPage,
  type Role, type User, type UserFilter, type UserStatus,
} from './store.ts';

// Declared once, in store.ts beside the table; re-exported for the callers of this module.
export type { Role, User, UserStatus };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function userView(u: User) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role as Role,
    status: (u.disabledAt ? 'disabled' : u.lockedAt ? 'locked' : 'active') as UserStatus,
    hasPassword: u.passwordHash !== null,
    lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
    createdAt: u.createdAt.toISOString(),
  };
}

function emailOrThrow(input: string): string {
  const email = parseEmail(input);
  if (!email) throw invalidRequest('email: must be exactly one email address.', { field: 'email' });
  return email;
}

/**
 * Creates a user. `alsoInTx` runs inside the same transaction with the new row (the welcome email
 * is queued there), so a user is never created without what the caller asked to go with it.
 */
export async function createUser(
  ctx: Pick<Ctx, 'clock' | 'db' | 'hasher' | 'strength'>, tenant: Tenant, input: { email: string; name?: string; password?: string; role?: Role }, actor: Actor,
  alsoInTx?: (tx: Db, user: User) => Promise<void>,
): Promise<User> {
  const email = emailOrThrow(input.email);
  if (input.password !== undefined) await enforcePolicy(ctx, input.password, [{ tenant, email }]);
  const passwordHash = input.password !== undefined ? await ctx.hasher.hash(input.password) : null;
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const row = await insertUser(tx, {
      tenantId: tenant.id, email, emailCanonical: canonicalEmail(email), name: input.name ?? '',
      role: input.role ?? 'member', passwordHash, passwordChangedAt: passwordHash ? now : null, createdAt: now,
    });
    if (!row) throw emailTaken();
    if (passwordHash) await recordPassword(tx, { userId: row.id, tenant, passwordHash, at: now });
    await audit(tx, actor, now, { type: 'user_created', tenantId: tenant.id, userId: row.id, data: { role: row.role } });
    if (alsoInTx) await alsoInTx(tx, row);
    return row;
  });
}

export async function getUser(ctx: Pick<Ctx, 'db'>, tenant: Tenant, id: string): Promise<User> {
  // Every query carries the tenant id: another tenant's user ids answer 404.
  if (!UUID.test(id)) throw notFound('No such user.');
  const row = await userById(ctx.db, tenant.id, id);
  if (!row) throw notFound('No such user.');
  return row;
}

export async function findUserByEmail(ctx: Pick<Ctx, 'db'>, tenant: Tenant, email: string): Promise<User | undefined> {
  return userByEmail(ctx.db, tenant.id, canonicalEmail(email));
}

export interface ListOptions extends UserFilter { limit?: number; }

/**
 * Keyset pagination by canonical email on the (tenant_id, email_canonical) unique index: the first
 * page and the thousandth cost the same. A search (ILIKE '%q%') cannot use the index, so it scans
 * the tenant's rows in index order and stops at the page size.
 */
export async function listUsers(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, opts: ListOptions) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 200);
  const rows = await usersPage(ctx.db, tenant.id, opts, limit + 1);
  const page = rows.slice(0, limit);
  return { users: await detailedViews(ctx, tenant, page), next: rows.length > limit ? page[page.length - 1]!.emailCanonical : null };
}

/** The addresses of these users of this tenant (ids of other tenants, or not ids at all, are left out). */
export async function emailsById(ctx: Pick<Ctx, 'db'>, tenant: Tenant, ids: (string | null | undefined)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((x): x is string => !!x && UUID.test(x)))];
  if (wanted.length === 0) return new Map();
  return emailsOfUsers(ctx.db, tenant.id, wanted);
}

export type UserDetails = ReturnType<typeof userView> & {
  signInMethods: ('password' | 'google')[];
  pendingReset: {
    issuedAt: string; expiresAt: string; origin: string;
    issuedBy: { type: 'user' | 'admin' | 'operator'; id: string | null; email: string | null };
  } | null;
  mfa: { enabled: boolean; types: FactorType[]; recoveryCodesLeft: number };
};

/**
 * Users as the admin console lists them: how each can sign in, their second factors (kinds and
 * recovery codes left, never secrets), and the reset link waiting for them (the newest live token
 * covering this tenant and their address; who made it). Three queries per page, whatever its size,
 * plus one for the names of the admins who made those links.
 */
export async function detailedViews(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, rows: User[]): Promise<UserDetails[]> {
  const linked = await usersWithIdentity(ctx.db, tenant.id, rows.map((u) => u.id));
  const tokens = new Map((await liveTokensOf(ctx.db, tenant.id, rows.map((u) => u.emailCanonical), ctx.clock.now())).map((t) => [t.emailCanonical, t]));
  const admins = await emailsById(ctx, tenant, [...tokens.values()].map((t) => /^admin:(.+)$/.exec(t.createdBy ?? '')?.[1]));
  const mfa = await mfaSummaries(ctx.db, rows.map((u) => u.id));
  return rows.map((u) => {
    const t = tokens.get(u.emailCanonical);
    const [type, id] = (t?.createdBy ?? 'user:').split(/:(.*)/s) as [string, string | undefined];
    return {
      ...userView(u),
      signInMethods: [...(u.passwordHash !== null ? ['password' as const] : []), ...(linked.has(u.id) ? ['google' as const] : [])],
      pendingReset: t ? {
        issuedAt: t.createdAt.toISOString(),
        expiresAt: t.expiresAt.toISOString(),
        origin: t.origin,
        issuedBy: {
          type: type === 'admin' || type === 'operator' ? type : 'user',
          id: id || null,
          email: type === 'admin' && id ? admins.get(id) ?? null : null,
        },
      } : null,
      mfa: { enabled: mfa.has(u.id), types: mfa.get(u.id)?.types ?? [], recoveryCodesLeft: mfa.get(u.id)?.recoveryCodesLeft ?? 0 },
    };
  });
}

export interface UserPatch { disabled?: boolean; locked?: boolean; role?: Role; name?: string; email?: string; }

/** One transaction: the change, what it implies (revoked sessions and links), and its audit lines. */
export async function updateUser(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, tenant: Tenant, id: string, patch: UserPatch, actor: Actor): Promise<User> {
  const before = await getUser(ctx, tenant, id);
  // An admin cannot shut themselves out (and perhaps the whole tenant with them).
  if (actor.type === 'admin' && actor.id === id) {
    if (patch.disabled === true) throw invalidRequest('disabled: you cannot disable your own account — ask another admin.', { field: 'disabled' });
    if (patch.role === 'member' && before.role === 'admin') throw invalidRequest('role: you cannot remove your own admin role — ask another admin.', { field: 'role' });
  }
  const email = patch.email !== undefined ? emailOrThrow(patch.email) : undefined;
  return ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const set: Partial<User> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.role !== undefined) set.role = patch.role;
    if (email !== undefined && email !== before.email) {
      set.email = email;
      set.emailCanonical = canonicalEmail(email);
    }
    if (patch.disabled === true && !before.disabledAt) set.disabledAt = now;
    if (patch.disabled === false && before.disabledAt) set.disabledAt = null;
    if (patch.locked === false && before.lockedAt) set.lockedAt = null;
    if (patch.locked === true && !before.lockedAt) set.lockedAt = now;
    if (Object.keys(set).length === 0) return before;

    let after: User | undefined;
    ctx.sessions.accountsChanged(tx, [id]); // name, role, email and status are what a session shows or refuses on
    try {
      after = await updateUserRow(tx, tenant.id, id, set);
    } catch (e) {
      // The driver's error may come wrapped (drizzle's query error carries it as `cause`).
      const err = e as { code?: string; cause?: { code?: string } };
      if (err.code === '23505' || err.cause?.code === '23505' || /users_tenant_email/.test(String(e))) {
        throw emailTaken();
      }
      throw e;
    }
    if (!after) throw notFound('No such user.');
    if (set.emailCanonical !== undefined) {
      await revokeTokensFor(tx, before.emailCanonical, tenant.id, now, 'email_changed');
      await audit(tx, actor, now, { type: 'email_changed', tenantId: tenant.id, userId: id, data: { from: before.email, to: after.email } });
    }
    if (set.disabledAt || set.lockedAt) {
      // Disabling takes effect at once: every session and every pending link dies with it.
      await ctx.sessions.revoke(tx, [id], set.disabledAt ? 'account_disabled' : 'account_locked');
      await revokeTokensFor(tx, after.emailCanonical, tenant.id, now, set.disabledAt ? 'account_disabled' : 'account_locked');
      await audit(tx, actor, now, { type: set.disabledAt ? 'user_disabled' : 'user_locked', tenantId: tenant.id, userId: id, data: { sessionsRevoked: 'all' } });
    }
    if (set.disabledAt === null) await audit(tx, actor, now, { type: 'user_enabled', tenantId: tenant.id, userId: id });
    if (set.lockedAt === null) await audit(tx, actor, now, { type: 'user_unlocked', tenantId: tenant.id, userId: id });
    if (set.role !== undefined && set.role !== before.role) await audit(tx, actor, now, { type: 'role_changed', tenantId: tenant.id, userId: id, data: { from: before.role, to: set.role } });
    if (set.name !== undefined && set.name !== before.name) await audit(tx, actor, now, { type: 'user_renamed', tenantId: tenant.id, userId: id });
    return after;
  });
}

/** Sign a user out everywhere (admin action). */
export async function signOutEverywhere(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, tenant: Tenant, id: string, actor: Actor): Promise<number> {
  await getUser(ctx, tenant, id);
  return ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const n = await ctx.sessions.revoke(tx, [id], 'sign_out_everywhere');
    await audit(tx, actor, now, { type: 'sessions_revoked', tenantId: tenant.id, userId: id, data: { count: n } });
    return n;
  });
}

export interface ImportRow { email: string; name?: string; role?: string; }
export interface ImportProblem { row: number; email: string; reason: string; }
export interface ImportResult { created: number; skipped: ImportProblem[]; }

/**
 * Bulk import without passwords (users set theirs through a reset link): every row is checked
 * first, then the valid rows are created in one transaction, and the others skipped with a
 * reason. With `allOrNothing`, one problem row means nothing is created (422 listing them all).
 */
export async function importUsers(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, rows: ImportRow[], actor: Actor, opts: { allOrNothing?: boolean } = {}): Promise<ImportResult> {
  const skipped: ImportResult['skipped'] = [];
  const seen = new Set<string>();
  const valid: { row: number; email: string; canonical: string; name: string; role: Role }[] = [];
  const existing = await canonicalEmailsOf(ctx.db, tenant.id);
  rows.forEach((r, i) => {
    const row = i + 1;
    const email = parseEmail(r.email);
    if (!email) return skipped.push({ row, email: String(r.email ?? ''), reason: 'not one valid email address' });
    const canonical = canonicalEmail(email);
    const role = r.role === undefined || r.role === '' ? 'member' : r.role;
    if (role !== 'admin' && role !== 'member') return skipped.push({ row, email, reason: `role must be admin or member, not "${role}"` });
    if (seen.has(canonical)) return skipped.push({ row, email, reason: 'appears earlier in the file' });
    if (existing.has(canonical)) return skipped.push({ row, email, reason: 'already a user of this tenant' });
    seen.add(canonical);
    valid.push({ row, email, canonical, name: (r.name ?? '').slice(0, 200), role });
  });
  if (opts.allOrNothing && skipped.length > 0) throw importRejected(skipped);
  if (valid.length > 0) {
    await ctx.db.transaction(async (tx) => {
      const now = ctx.clock.now();
      for (let i = 0; i < valid.length; i += 500) {
        const chunk = valid.slice(i, i + 500);
        await insertUsers(tx, chunk.map((v) => ({
          tenantId: tenant.id, email: v.email, emailCanonical: v.canonical, name: v.name, role: v.role, createdAt: now,
        })));
      }
      await audit(tx, actor, now, { type: 'users_imported', tenantId: tenant.id, data: { created: valid.length, skipped: skipped.length } });
    });
  }
  return { created: valid.length, skipped };
}
