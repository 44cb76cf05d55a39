// An admin-started reset is the ordinary reset flow entered from another door: same token, same
// email, same completion. It revokes nothing until the user completes it. A user who has no way to
// sign in yet (created without a password, no linked identity) gets the same link worded as a
// welcome ("set your password") instead.
import { invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { slices } from '../../platform/batch.ts';
import type { Db } from '../../platform/db.ts';
import { LimitKeys } from '../abuse/keys.ts';
import type { Actor } from '../audit/audit.ts';
import { getUser, type User } from '../accounts/accounts.ts';
import { welcomeEmail, type ResetMailInput } from '../password-reset/emails/messages.ts';
import { issueReset, issueResets } from '../password-reset/flow.ts';
import { countReset } from '../password-reset/metrics.ts';
import { tenantLoginUrl } from '../sso/connection.ts';
import { usersWithIdentity } from '../sso/store.ts';
import { adminResetTtlMs } from '../tenants/settings.ts';
import { allowsPassword, type Tenant } from '../tenants/store.ts';

function refuseUnusable(user: User, tenant: Tenant): void {
  if (user.disabledAt) throw invalidRequest('This user is disabled — enable the account first, then reset its password.', { reason: 'account_disabled' });
  if (user.lockedAt) throw invalidRequest('This account was locked from a "this wasn\'t me" link — unlock it first, then reset its password.', { reason: 'account_locked' });
  if (!allowsPassword(tenant)) throw invalidRequest('Password sign-in is off for this tenant.', { reason: 'password_off' });
}

/**
 * What an admin makes for one user is limited: emails (adminResendPerUser: each supersedes the last,
 * so a burst only fills the user's inbox) and links to copy (adminLinksPerUser), each its own budget.
 */
async function countEmails(ctx: Pick<Ctx, 'limits' | 'secrets'>, users: User[]): Promise<void> {
  const keys = new LimitKeys(ctx.secrets);
  // An import's new users are counted a few hundred at a time (one statement each on PostgreSQL).
  for (const batch of slices(users, 500)) await ctx.limits.consumeAll(batch.map((u) => ({ name: 'adminResendPerUser', key: keys.user(u.id) })));
}
const countEmail = (ctx: Pick<Ctx, 'limits' | 'secrets'>, user: User) => countEmails(ctx, [user]);
const countLink = (ctx: Pick<Ctx, 'limits' | 'secrets'>, user: User) => ctx.limits.consume('adminLinksPerUser', new LimitKeys(ctx.secrets).user(user.id));

const welcome = (ctx: Pick<Ctx, 'config'>, tenant: Tenant) => (p: ResetMailInput) => welcomeEmail({ ...p, signInUrl: tenantLoginUrl(ctx.config.publicUrl, tenant) });

export async function adminReset(
  ctx: Ctx, tenant: Tenant, userId: string,
  input: { delivery: 'email' | 'link'; ttlMs?: number; reason?: string }, actor: Actor,
): Promise<{ url?: string; expiresAt: Date }> {
  const user = await getUser(ctx, tenant, userId);
  refuseUnusable(user, tenant);
  const newcomer = user.passwordHash === null && !(await usersWithIdentity(ctx.db, tenant.id, [user.id])).has(user.id);
  await (input.delivery === 'email' ? countEmail : countLink)(ctx, user);
  const issued = await ctx.db.transaction((tx) =>
    issueReset(ctx, tx, {
      accounts: [{ user, tenant }], origin: 'admin', actor, deliver: input.delivery,
      ttlMs: input.ttlMs ?? adminResetTtlMs(ctx.config, tenant), reason: input.reason,
      ...(newcomer ? { mail: welcome(ctx, tenant), kind: 'welcome' } : {}),
    }));
  countReset(ctx.tallies.resets, 'requested', 'admin');
  return input.delivery === 'link' ? issued : { expiresAt: issued.expiresAt };
}

/** Inside createUser's transaction: the new user's "Welcome — set your password" email. */
export async function sendWelcome(ctx: Ctx, tx: Db, tenant: Tenant, user: User, actor: Actor): Promise<{ expiresAt: Date }> {
  return (await sendWelcomes(ctx, tx, tenant, [user], actor))[0]!;
}

/** sendWelcome for an import's new users: their links and emails in a few statements per batch. */
export async function sendWelcomes(ctx: Ctx, tx: Db, tenant: Tenant, users: User[], actor: Actor): Promise<{ expiresAt: Date }[]> {
  for (const user of users) refuseUnusable(user, tenant);
  await countEmails(ctx, users);
  const issued = await issueResets(ctx, tx, users.map((user) => ({
    accounts: [{ user, tenant }], origin: 'admin', actor, deliver: 'email',
    ttlMs: adminResetTtlMs(ctx.config, tenant), mail: welcome(ctx, tenant), kind: 'welcome',
  })));
  countReset(ctx.tallies.resets, 'requested', 'admin', users.length);
  return issued.map(({ expiresAt }) => ({ expiresAt }));
}
