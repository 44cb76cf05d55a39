// The SCIM Users operations over the account functions every other door uses (createUser,
// updateUser, sendWelcome; DELETE is eraseUser itself): the same rules, audit lines and webhook events. Disabling
// (active:false) is updateUser's `disabled: true`, which in its one transaction revokes every
// session and app token (back-channel logout queued) and every pending reset link.
import type { Ctx } from '../../context.ts';
import { externalIdTaken } from '../../errors.ts';
import { createUser, findUserByEmail, updateUser, type User, type UserPatch } from '../accounts/accounts.ts';
import { setExternalId, updateUserRow, userByExternalId, usersByCreation, violatesIndex } from '../accounts/store.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { sendWelcome } from '../admin/admin-reset.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { scimSendsWelcome } from '../tenants/settings.ts';
import { allowsPassword, type Tenant } from '../tenants/store.ts';
import { ScimError, uniqueness } from './errors.ts';
import { parseFilter } from './filter.ts';
import type { Change } from './patch.ts';
import type { UserInput } from './user-resource.ts';

export const MAX_COUNT = 200;
export const DEFAULT_COUNT = 100;

/** Refuses an externalId another user of the tenant has (the unique index would, less politely). */
async function checkExternalId(ctx: Pick<Ctx, 'db'>, tenant: Tenant, externalId: string | null | undefined, self?: string): Promise<void> {
  if (!externalId) return;
  const holder = await userByExternalId(ctx.db, tenant.id, externalId);
  if (holder && holder.id !== self) throw uniqueness('A user with this externalId already exists in this tenant.');
}

/**
 * A new member of the tenant, in one transaction with its externalId, its state (an identity
 * provider may create a user inactive) and, where the tenant wants it and signs in with
 * passwords, the welcome email with a link to set a password.
 */
export async function createScimUser(ctx: Ctx, tenant: Tenant, input: UserInput, actor: Actor): Promise<User> {
  await checkExternalId(ctx, tenant, input.externalId);
  if (await findUserByEmail(ctx, tenant, input.email)) throw uniqueness('A user with this userName (email) already exists in this tenant.');
  const welcome = input.active !== false && scimSendsWelcome(tenant) && allowsPassword(tenant);
  let created: User | undefined;
  try {
    await createUser(ctx, tenant, { email: input.email, name: input.name, role: 'member' }, actor, async (tx, user) => {
      created = user;
      if (input.externalId) created = await setExternalId(tx, tenant.id, user.id, input.externalId);
      if (input.active === false) {
        const now = ctx.clock.now();
        created = await updateUserRow(tx, tenant.id, user.id, { disabledAt: now });
        await audit(tx, actor, now, { type: 'user_disabled', tenantId: tenant.id, userId: user.id, data: { sessionsRevoked: 'all' } });
      }
      if (welcome) await sendWelcome(ctx, tx, tenant, user, actor);
    });
  } catch (e) {
    if (violatesIndex(e, 'users_tenant_external_id')) throw externalIdTaken();
    throw e;
  }
  return created!;
}

/** A change (PUT or PATCH) to one user, through updateUser: one transaction with its audit lines. */
export async function changeScimUser(ctx: Ctx, tenant: Tenant, user: User, change: Change, actor: Actor): Promise<User> {
  if (change.externalId !== undefined && change.externalId !== user.externalId) await checkExternalId(ctx, tenant, change.externalId, user.id);
  // A staff address is changed in Keyturn only: through a token that may rewrite it, whoever holds
  // the token could point an admin's account at their own mailbox and reset its password.
  if (change.email !== undefined && user.role !== 'member' && canonicalEmail(change.email) !== user.emailCanonical) {
    throw new ScimError(400, 'mutability', 'The userName of an admin or supervisor cannot be changed by provisioning — an admin changes it in Keyturn.');
  }
  const patch: UserPatch = {};
  if (change.email !== undefined) patch.email = change.email;
  if (change.name !== undefined) patch.name = change.name;
  if (change.externalId !== undefined) patch.externalId = change.externalId;
  if (change.active !== undefined) patch.disabled = !change.active;
  return updateUser(ctx, tenant, user.id, patch, actor);
}

export interface ListQuery { filter?: string; startIndex: number; count: number; }

/**
 * A page of the tenant's users: all of them in creation order, or the one a filter names. The
 * startIndex is 1-based (RFC 7644 §3.4.2.4); the total counts every match, not the page.
 */
export async function listScimUsers(ctx: Pick<Ctx, 'db'>, tenant: Tenant, q: ListQuery): Promise<{ total: number; rows: User[] }> {
  if (q.filter === undefined) return usersByCreation(ctx.db, tenant.id, q.startIndex - 1, q.count);
  const filter = parseFilter(q.filter);
  const found = filter.attribute === 'userName'
    ? await findUserByEmail(ctx, tenant, filter.value)
    : await userByExternalId(ctx.db, tenant.id, filter.value);
  const matches = found ? [found] : [];
  return { total: matches.length, rows: matches.slice(q.startIndex - 1, q.startIndex - 1 + q.count) };
}
