// Change password while signed in: the current password is required, the tenant's policy applies,
// other sessions are revoked (this one stays), pending reset links die.
import type { Ctx } from '../../context.ts';
import { clearThrottles, runAfterPasswordSet } from '../accounts/after-password-set.ts';
import { confirmPassword } from '../accounts/current-password.ts';
import { setPasswordHash } from '../accounts/store.ts';
import { enforcePolicy } from '../password-policy/enforce.ts';
import type { SessionInfo } from '../sessions/sessions.ts';

export async function changePassword(
  ctx: Ctx, session: SessionInfo, input: { currentPassword: string; newPassword: string; ip: string },
): Promise<void> {
  const account = await confirmPassword(ctx, session.user.id, input.currentPassword);
  await enforcePolicy(ctx, input.newPassword, [{ tenant: account.tenant, email: account.user.email, user: account.user }]);
  const passwordHash = await ctx.hasher.hash(input.newPassword);
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    await setPasswordHash(tx, [account.user.id], passwordHash, now);
    await runAfterPasswordSet(ctx, tx, {
      accounts: [account], how: 'change', actor: { type: 'user', id: account.user.id, ip: input.ip }, at: now,
      keepSessionHash: session.idHash, passwordHash,
    });
  });
  ctx.worker.kick();
  await clearThrottles(ctx, [account], input.ip);
}
