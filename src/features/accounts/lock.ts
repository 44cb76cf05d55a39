// "This wasn't me": the link in the password-changed notice locks the account, revokes every
// session and every pending reset link. The pages behind the link (GET shows one button, POST
// locks) are in web/pages/lock.ts.
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Ctx } from '../../context.ts';
import { enqueueMail } from '../../platform/outbox/outbox.ts';
import { lockTokens } from '../../platform/schema.ts';
import { audit } from '../audit/audit.ts';
import { accountLockedEmail } from '../password-reset/emails/messages.ts';
import { revokeTokensFor } from '../password-reset/store.ts';
import { mailBrandOf, senderOf } from '../tenants/settings.ts';
import { accountById, lockUser } from './store.ts';

/** Locks the account of an unused, unexpired lock link; false when the link no longer works. */
export async function lockAccount(ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'secrets' | 'sessions'>, token: string, ip: string): Promise<boolean> {
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    // Single use: only an unused, unexpired link matches.
    const [link] = await tx
      .update(lockTokens)
      .set({ usedAt: now })
      .where(and(eq(lockTokens.tokenHash, ctx.secrets.hash('lock', token)), isNull(lockTokens.usedAt), gt(lockTokens.expiresAt, now)))
      .returning({ userId: lockTokens.userId });
    if (!link) return false;
    const row = await accountById(tx, link.userId);
    if (!row) return false;
    await lockUser(tx, row.user.id, now);
    await ctx.sessions.revoke(tx, [row.user.id], 'account_locked');
    await revokeTokensFor(tx, row.user.emailCanonical, row.tenant.id, now, 'account_locked');
    await audit(tx, { type: 'user', id: row.user.id, ip }, now, { type: 'user_locked', tenantId: row.tenant.id, userId: row.user.id, data: { via: 'this_wasnt_me', sessionsRevoked: 'all' } });
    await enqueueMail(tx, ctx.secrets, ctx.clock, {
      ...accountLockedEmail({ tenantName: row.tenant.name, at: now, brand: mailBrandOf(row.tenant) }),
      kind: 'account_locked', to: row.user.email, tenantId: row.tenant.id, userId: row.user.id, from: senderOf(ctx.config.mailFrom, row.tenant),
    });
    return true;
  });
}
