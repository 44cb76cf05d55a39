// "Enter your password again": before a password change and before any change to second factors,
// the signed-in person proves they are the owner and not someone at an unlocked screen.
import { wrongPassword } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { LimitKeys } from '../abuse/keys.ts';
import { accountById, type Account } from './store.ts';

/** The account when the password is right; else 403 wrong_password, counted (changeFailuresPerUser). */
export async function confirmPassword(ctx: Pick<Ctx, 'db' | 'hasher' | 'limits' | 'secrets'>, userId: string, password: string): Promise<Account> {
  const throttle = new LimitKeys(ctx.secrets).user(userId);
  await ctx.limits.check('changeFailuresPerUser', throttle);
  const account = await accountById(ctx.db, userId);
  if (!account || !(await ctx.hasher.verify(account.user.passwordHash, password))) {
    await ctx.limits.penalty('changeFailuresPerUser', throttle);
    throw wrongPassword();
  }
  return account;
}
