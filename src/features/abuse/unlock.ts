// When the account-wide sign-in budget trips, the owner is emailed a link that makes the browser it
// is opened in a trusted device for the address (devices.ts). Proving control of the mailbox is
// what a reset proves too; unlike a reset it changes nothing about the account, and the attacker's
// spent budget stays spent for every browser the owner has not trusted.
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Ctx } from '../../context.ts';
import { randomToken } from '../../platform/crypto.ts';
import { enqueueMail } from '../../platform/outbox/outbox.ts';
import { unlockTokens } from '../../platform/schema.ts';
import { audit } from '../audit/audit.ts';
import { signInPausedEmail } from '../password-reset/emails/messages.ts';
import { accountsByEmail } from '../accounts/store.ts';
import { allowsPassword } from '../tenants/store.ts';
import { mailBrandOf, senderOf } from '../tenants/settings.ts';

/** Emails the owner(s) of the address, if it has usable accounts; nothing for an unknown address. */
export async function sendUnlockEmail(ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'secrets' | 'worker'>, email: string, ip: string, lifetimeMs: number): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const accounts = (await accountsByEmail(tx, email)).filter((a) => !a.user.disabledAt && !a.user.lockedAt && allowsPassword(a.tenant));
    const first = accounts[0];
    if (!first) return;
    const now = ctx.clock.now();
    const token = randomToken();
    const expiresAt = new Date(now.getTime() + lifetimeMs);
    await tx.insert(unlockTokens).values({ tokenHash: ctx.secrets.hash('unlock', token), emailCanonical: email, createdAt: now, expiresAt });
    // The link names the tenant when there is one, so its page wears the tenant's brand.
    const tenant = accounts.length === 1 ? `&tenant=${first.tenant.slug}` : '';
    const mail = signInPausedEmail({
      url: `${ctx.config.publicUrl}/login/unlock?token=${token}${tenant}`, expiresAt,
      tenantNames: accounts.map((a) => a.tenant.name), brand: mailBrandOf(accounts.map((a) => a.tenant)),
    });
    // Always to the stored address, never to what was typed.
    await enqueueMail(tx, ctx.secrets, ctx.clock, {
      ...mail, kind: 'sign_in_paused', to: first.user.email, tenantId: first.tenant.id, userId: first.user.id,
      from: senderOf(ctx.config.mailFrom, first.tenant),
    });
    for (const a of accounts) {
      await audit(tx, { type: 'user', ip }, now, { type: 'sign_in_paused', tenantId: a.tenant.id, userId: a.user.id, data: { reason: 'account_failure_budget' } });
    }
  });
  ctx.worker.kick();
}

/** The canonical address an unused, unexpired unlock link is for; spends it (single use). */
export async function redeemUnlock(ctx: Pick<Ctx, 'clock' | 'db' | 'secrets'>, token: string): Promise<string | null> {
  const now = ctx.clock.now();
  // Single use: only an unused, unexpired link matches; a row count of 0 means refused.
  const [row] = await ctx.db
    .update(unlockTokens)
    .set({ usedAt: now })
    .where(and(eq(unlockTokens.tokenHash, ctx.secrets.hash('unlock', token)), isNull(unlockTokens.usedAt), gt(unlockTokens.expiresAt, now)))
    .returning({ email: unlockTokens.emailCanonical });
  return row?.email ?? null;
}
