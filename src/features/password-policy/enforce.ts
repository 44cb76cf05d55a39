// Server side of the policy: the same isomorphic rules the page runs, plus the strength estimator.
import { passwordPolicy } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import type { Tenant } from '../tenants/store.ts';
import { checkPassword, resolvePolicy, type PolicySettings } from './policy.ts';

export const policyOf = (tenant: Pick<Tenant, 'passwordPolicy'>) =>
  resolvePolicy(tenant.passwordPolicy as PolicySettings);

/** Throws 422 password_policy with the failed rule ids of every tenant's policy. */
export async function enforcePolicy(
  ctx: Ctx, password: string, accounts: { tenant: Pick<Tenant, 'passwordPolicy'>; email: string }[],
): Promise<void> {
  const strength = await ctx.strength();
  const failed = new Set<string>();
  for (const { tenant, email } of accounts) {
    for (const id of checkPassword(password, policyOf(tenant), { email, strength }).failed) failed.add(id);
  }
  if (failed.size > 0) throw passwordPolicy([...failed]);
}
