// Creating and changing accounts — shared by the operator API, the tenant admin API and the CLI.
import { emailTaken, externalIdTaken, invalidRequest, notFound } from '../../errors.ts';
import { isUuid } from '../../platform/http.ts';
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
  countUsers, emailsOfUsers, insertUser, otherEnabledAdmins, violatesIndex, peopleOfUsers, updateUserRow, userByEmail, userById, usersPage,
  type Role, type User, type UserFilter, type UserStatus,
} from './store.ts';

// Declared once, in store.ts beside the table; re-exported for the callers of this module.
export type { Role, User, UserStatus };
/** Who a user is, for people reading about them (the audit log's sentences). */
export interface Person { name: string; email: string; role: Role; }


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
  if (!isUuid(id)) throw notFound('No such user.');
  const row = await userById(ctx.db, tenant.id, id);
  if (!row) throw notFound('No such user.');
  return row;
}

export async function findUserByEmail(ctx: Pick<Ctx, 'db'>, tenant: Tenant, email: string): Promise<User | undefined> {
  return userByEmail(ctx.db, tenant.id, canonicalEmail(email));
}

export interface ListOptions extends UserFilter { limit?: number; }

/**
 * A page of users (keyset pagination by canonical email; a search uses the trigram index), with how
 * many match the filter in all — the number a bulk action on "all matching" would reach.
 */
export async function listUsers(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, opts: ListOptions) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 200);
  const filter = { ...opts, now: ctx.clock.now() };
  const [rows, total] = await Promise.all([usersPage(ctx.db, tenant.id, filter, limit + 1), countUsers(ctx.db, tenant.id, filter)]);
  const page = rows.slice(0, limit);
  return { users: await detailedViews(ctx, tenant, page), next: rows.length > limit ? page[page.length - 1]!.emailCanonical : null, total };
}

/** The ids of every user matching the filter, in list order (at most `max`): "all matching" for a bulk action. */
export async function matchingIds(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, filter: UserFilter, max: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const rows = await usersPage(ctx.db, tenant.id, { ...filter, after, now: ctx.clock.now() }, Math.min(1000, max - ids.length));
    ids.push(...rows.map((r) => r.id));
    if (rows.length === 0 || ids.length >= max) return ids;
    after = rows[rows.length - 1]!.emailCanonical;
  }
}

/** The addresses of these users of this tenant (ids of other tenants, or not ids at all, are left out). */
export async function emailsById(ctx: Pick<Ctx, 'db'>, tenant: Tenant, ids: (string | null | undefined)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((x): x is string => !!x && isUuid(x)))];
  if (wanted.length === 0) return new Map();
  return emailsOfUsers(ctx.db, tenant.id, wanted);
}

/** Name, address and role of these users (of this tenant, or of any for the operator: null), by id; other ids are left out. */
export async function peopleById(ctx: Pick<Ctx, 'db'>, tenant: Tenant | null, ids: (string | null | undefined)[]): Promise<Map<string, Person>> {
  const wanted = [...new Set(ids.filter((x): x is string => !!x && isUuid(x)))];
  if (wanted.length === 0) return new Map();
  return peopleOfUsers(ctx.db, tenant?.id ?? null, wanted);
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

export interface UserPatch { disabled?: boolean; locked?: boolean; role?: Role; name?: string; email?: string; externalId?: string | null; }

/** One transaction: the change, what it implies (revoked sessions and links), and its audit lines. */
export async function updateUser(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, tenant: Tenant, id: string, patch: UserPatch, actor: Actor, reason?: string): Promise<User> {
  const before = await getUser(ctx, tenant, id);
  // An admin cannot shut themselves out (and perhaps the whole tenant with them).
  if (actor.type === 'admin' && actor.id === id) {
    if (patch.disabled === true) throw invalidRequest('disabled: you cannot disable your own account — ask another admin.', { field: 'disabled' });
    if (patch.role !== undefined && patch.role !== 'admin' && before.role === 'admin') throw invalidRequest('role: you cannot remove your own admin role — ask another admin.', { field: 'role' });
  }
  if (patch.disabled === true || (patch.role !== undefined && patch.role !== 'admin')) await keepAnAdmin(ctx, tenant, before, actor);
  const email = patch.email !== undefined ? emailOrThrow(patch.email) : undefined;
  const why = reason ? { reason } : {};
  return ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const set: Partial<User> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.externalId !== undefined && patch.externalId !== before.externalId) set.externalId = patch.externalId;
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
      if (violatesIndex(e, 'users_tenant_external_id')) throw externalIdTaken();
      if (violatesIndex(e, 'users_tenant_email')) throw emailTaken();
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
      await audit(tx, actor, now, { type: set.disabledAt ? 'user_disabled' : 'user_locked', tenantId: tenant.id, userId: id, data: { sessionsRevoked: 'all', ...why } });
    }
    if (set.disabledAt === null) await audit(tx, actor, now, { type: 'user_enabled', tenantId: tenant.id, userId: id, data: why });
    if (set.lockedAt === null) await audit(tx, actor, now, { type: 'user_unlocked', tenantId: tenant.id, userId: id });
    if (set.role !== undefined && set.role !== before.role) await audit(tx, actor, now, { type: 'role_changed', tenantId: tenant.id, userId: id, data: { from: before.role, to: set.role } });
    if (set.name !== undefined && set.name !== before.name) await audit(tx, actor, now, { type: 'user_renamed', tenantId: tenant.id, userId: id });
    if (set.externalId !== undefined) await audit(tx, actor, now, { type: 'external_id_changed', tenantId: tenant.id, userId: id, data: { from: before.externalId, to: set.externalId } });
    return after;
  });
}

/**
 * A tenant keeps one enabled admin: its staff, provisioning or a bulk run cannot disable, demote or
 * erase the last one (the operator can, having the operator API to recover with).
 */
export async function keepAnAdmin(ctx: Pick<Ctx, 'db'>, tenant: Tenant, user: User, actor: Actor): Promise<void> {
  if (actor.type === 'operator' || user.role !== 'admin' || user.disabledAt) return;
  if (await otherEnabledAdmins(ctx.db, tenant.id, user.id) === 0) {
    throw invalidRequest('This is the last admin of this tenant — make someone else admin first.', { reason: 'last_admin' });
  }
}

/** Sign a user out everywhere (admin action). */
export async function signOutEverywhere(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, tenant: Tenant, id: string, actor: Actor, reason?: string): Promise<number> {
  await getUser(ctx, tenant, id);
  return ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const n = await ctx.sessions.revoke(tx, [id], 'sign_out_everywhere');
    await audit(tx, actor, now, { type: 'sessions_revoked', tenantId: tenant.id, userId: id, data: { count: n, ...(reason ? { reason } : {}) } });
    return n;
  });
}
