// Server side of the policy: the same isomorphic rules the page runs, plus the strength estimator,
// plus what only the server knows: the account's previous passwords (history.ts).
import { passwordPolicy } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import type { Tenant } from '../tenants/store.ts';
import { historyDepth, reusesRecentPassword } from './history.ts';
import { checkPassword, resolvePolicy, type PolicySettings } from './policy.ts';

export const policyOf = (tenant: Pick<Tenant, 'passwordPolicy'>) =>
  resolvePolicy(tenant.passwordPolicy as PolicySettings);

/**
 * Throws 422 password_policy with the failed rule ids of every tenant's policy. With `user` (an
 * existing account), also `not_reused`: not one of the tenant's last N passwords of that account.
 */
export async function enforcePolicy(
  ctx: Pick<Ctx, 'db' | 'hasher' | 'strength'>, password: string,
  accounts: { tenant: Pick<Tenant, 'passwordPolicy'>; email: string; user?: { id: string; passwordHash: string | null } }[],
): Promise<void> {
  const strength = await ctx.strength();
  const failed = new Set<string>();
  for (const { tenant, email } of accounts) {
    for (const id of checkPassword(password, policyOf(tenant), { email, strength }).failed) failed.add(id);
  }
  for (const { tenant, user } of accounts) {
    if (user && !failed.has('not_reused') && (await reusesRecentPassword(ctx, password, user, historyDepth(tenant)))) failed.add('not_reused');
  }
  if (failed.size > 0) throw passwordPolicy([...failed]);
}
