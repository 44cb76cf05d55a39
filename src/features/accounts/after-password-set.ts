// What happens after a password is set — by reset, by change in settings, or on an admin's link.
// Written once as named steps, run inside the transaction that set the password (store.ts's
// setPasswordHash). Revoking is the default.
import type { Ctx } from '../../context.ts';
import { randomToken } from '../../platform/crypto.ts';
import type { Db } from '../../platform/db.ts';
import { enqueueMail } from '../../platform/outbox/outbox.ts';
import { lockTokens } from '../../platform/schema.ts';
import { clearLoginThrottles } from '../abuse/guard.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { recordPassword } from '../password-policy/history.ts';
import { passwordChangedEmail } from '../password-reset/emails/messages.ts';
import { revokeTokensFor } from '../password-reset/store.ts';
import { mailBrandOf, senderOf } from '../tenants/settings.ts';
import type { Account } from './store.ts';

export interface PasswordSet {
  accounts: Account[];
  how: 'reset' | 'change';
  actor: Actor;
  at: Date;
  /** Password change keeps the session it was made from; a reset keeps none. */
  keepSessionHash?: string;
  /** The new hash, remembered for the tenants' "not one of your last N passwords" rule. */
  passwordHash: string;
}

/** What the steps use: the lock link's secret and URL, the notice's sender, the clock, sessions. */
export type PasswordSetDeps = Pick<Ctx, 'config' | 'secrets' | 'clock' | 'sessions'>;

type Step = (deps: PasswordSetDeps, tx: Db, event: PasswordSet) => Promise<void>;

const LOCK_LINK_TTL_MS = 14 * 86_400_000;

const revokeAllSessions: Step = async (deps, tx, e) => {
  await deps.sessions.revoke(tx, e.accounts.map((a) => a.user.id), e.how === 'change' ? 'password_change' : 'password_reset', { keepIdHash: e.keepSessionHash });
};

const revokePendingResets: Step = async (_deps, tx, e) => {
  for (const { user, tenant } of e.accounts) await revokeTokensFor(tx, user.emailCanonical, tenant.id, e.at, 'password_changed');
};

const writeAudit: Step = async (_deps, tx, e) => {
  for (const { user, tenant } of e.accounts) {
    await audit(tx, e.actor, e.at, {
      type: e.how === 'change' ? 'password_changed' : 'password_reset_completed',
      tenantId: tenant.id,
      userId: user.id,
      data: { sessionsRevoked: e.keepSessionHash ? 'others' : 'all' },
    });
  }
};

/** A new "this wasn't me" link for a security notice: it locks the account and signs everybody out. */
export async function newLockUrl(deps: Pick<Ctx, 'config' | 'secrets'>, tx: Db, account: { userId: string; tenantSlug: string }, at: Date): Promise<string> {
  const token = randomToken();
  await tx.insert(lockTokens).values({
    tokenHash: deps.secrets.hash('lock', token),
    userId: account.userId,
    createdAt: at,
    expiresAt: new Date(at.getTime() + LOCK_LINK_TTL_MS),
  });
  // The tenant only brands the page; the token decides whose account it locks.
  return `${deps.config.publicUrl}/account/lock?token=${token}&tenant=${account.tenantSlug}`;
}

/** "Your password was changed" with a "this wasn't me" link that locks the account. */
const sendNotice: Step = async (deps, tx, e) => {
  for (const { user, tenant } of e.accounts) {
    const mail = passwordChangedEmail({
      tenantName: tenant.name, at: e.at, how: e.how, lockUrl: await newLockUrl(deps, tx, { userId: user.id, tenantSlug: tenant.slug }, e.at), brand: mailBrandOf(tenant),
    });
    await enqueueMail(tx, deps.secrets, deps.clock, { ...mail, kind: 'password_changed', to: user.email, tenantId: tenant.id, userId: user.id, from: senderOf(deps.config.mailFrom, tenant) });
  }
};

const rememberPassword: Step = async (_deps, tx, e) => {
  for (const { user, tenant } of e.accounts) await recordPassword(tx, { userId: user.id, tenant, passwordHash: e.passwordHash, at: e.at });
};

export const afterPasswordSet: readonly Step[] = [rememberPassword, revokeAllSessions, revokePendingResets, writeAudit, sendNotice];

export async function runAfterPasswordSet(deps: PasswordSetDeps, tx: Db, event: PasswordSet): Promise<void> {
  for (const step of afterPasswordSet) await step(deps, tx, event);
}

/**
 * After the transaction: the owner proved control, so the address's login counters (and the delay
 * of the client that did it) are cleared. Nothing else changes: a disabled account stays disabled.
 */
export async function clearThrottles(ctx: Pick<Ctx, 'limits' | 'secrets'>, accounts: Account[], ip?: string): Promise<void> {
  await clearLoginThrottles(ctx, accounts.map((a) => a.user.emailCanonical), ip);
}
