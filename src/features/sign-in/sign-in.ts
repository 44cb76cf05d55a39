// Password sign-in. One answer (401 invalid_credentials) for every wrong combination; a right
// password in several tenants asks the caller to choose (300 choose_tenant + a short-lived ticket).
import { accountLocked, invalidCredentials, invalidTicket } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { audit } from '../audit/audit.ts';
import { Devices } from '../abuse/devices.ts';
import { guardLogin } from '../abuse/guard.ts';
import { sendUnlockEmail } from '../abuse/unlock.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { signInCandidates } from '../accounts/store.ts';
import type { SessionInfo } from '../sessions/sessions.ts';
import { issueTicket, spendTicket } from './choose-tenant.ts';
import { completeSignIn, type SignInOutcome } from './signed-in.ts';

export interface SignInInput {
  email: string; password: string; tenant?: string; ticket?: string; ip: string; userAgent?: string;
  /** The adaptive captcha's answer, when the client was asked for one (428). */
  captcha?: string;
  /** The browser's device cookie (trusted devices keep a failure budget of their own). */
  device?: string;
  /** The hosted pages' second-step cookie: binds a second-step ticket to this browser (else IP and user agent do). */
  binding?: string;
}

export type SignInResult = SignInOutcome | { kind: 'choose-tenant'; ticket: string; tenants: { slug: string; name: string }[] };

export async function signIn(ctx: Ctx, input: SignInInput): Promise<SignInResult> {
  const email = canonicalEmail(input.email);
  const device = new Devices(ctx.secrets).idFor(input.device, email);
  // Limits, delays and the adaptive captcha come before any password is verified.
  const guard = await guardLogin(ctx, { email, ip: input.ip, tenant: input.tenant, captcha: input.captcha, device });

  const allowed = (await signInCandidates(ctx.db, email, input.tenant)).filter((c) => c.tenant.loginMethods.includes('password'));

  // Every candidate at once, padded to a fixed time (the dummy hash when there is none): the time
  // spent tells neither whether the address has an account nor how many.
  const verified = await ctx.hasher.verifyAll(allowed.map((c) => c.user.passwordHash), input.password);
  const right = allowed.filter((_, i) => verified[i]);
  const matches = right.filter((c) => !c.user.lockedAt);

  if (matches.length === 0) {
    // Only someone who knows the password learns that the account is locked.
    if (right.length > 0) throw accountLocked();
    if (await guard.failed()) {
      await sendUnlockEmail(ctx, email, input.ip, ctx.limits.rule('loginFailuresPerAccount').windowMs)
        .catch((e) => ctx.log.error({ err: e }, 'could not queue the sign-in paused email'));
    }
    throw invalidCredentials();
  }

  if (input.ticket !== undefined) {
    const spent = await spendTicket(ctx, input.ticket, email);
    if (!spent || !matches.every((m) => spent.userIds.includes(m.user.id))) throw invalidTicket();
  }

  if (matches.length > 1) {
    const ticket = await issueTicket(ctx, email, matches.map((m) => m.user.id));
    return { kind: 'choose-tenant', ticket, tenants: matches.map((m) => ({ slug: m.tenant.slug, name: m.tenant.name })) };
  }

  // The password is proved: this client's failures on the account are forgiven, whatever follows.
  await guard.succeeded();
  return completeSignIn(ctx, matches[0]!, { email, ip: input.ip, userAgent: input.userAgent, device: input.device, binding: input.binding }, { method: 'password' });
}

export async function signOut(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, s: SessionInfo, ip: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    await ctx.sessions.end(tx, s);
    await audit(tx, { type: 'user', id: s.user.id, ip }, now, { type: 'signed_out', tenantId: s.tenant.id, userId: s.user.id });
  });
}
