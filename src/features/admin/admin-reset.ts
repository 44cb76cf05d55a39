// An admin-started reset is the ordinary reset flow entered from another door: same token, same
// email, same completion. It revokes nothing until the user completes it.
import { invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import type { Actor } from '../audit/audit.ts';
import { getUser } from '../accounts/accounts.ts';
import { issueReset } from '../password-reset/flow.ts';
import { countReset } from '../password-reset/metrics.ts';
import { allowsPassword, type Tenant } from '../tenants/store.ts';

export async function adminReset(
  ctx: Ctx, tenant: Tenant, userId: string,
  input: { delivery: 'email' | 'link'; ttlMs?: number; reason?: string }, actor: Actor,
): Promise<{ url?: string; expiresAt: Date }> {
  const user = await getUser(ctx, tenant, userId);
  if (user.disabledAt) throw invalidRequest('This user is disabled — enable the account first, then reset its password.');
  if (!allowsPassword(tenant)) throw invalidRequest('Password sign-in is off for this tenant.');
  const issued = await ctx.db.transaction((tx) =>
    issueReset(ctx, tx, {
      accounts: [{ user, tenant }], origin: 'admin', actor, deliver: input.delivery,
      ttlMs: input.ttlMs ?? ctx.config.adminResetTokenTtlMs, reason: input.reason,
    }));
  countReset('requested', 'admin');
  return input.delivery === 'link' ? issued : { expiresAt: issued.expiresAt };
}
