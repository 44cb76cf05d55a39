// Password sign-in. One answer (401 invalid_credentials) for every wrong combination; a right
// password in several tenants asks the caller to choose (300 choose_tenant + a short-lived ticket).
import { and, eq, isNull, sql } from 'drizzle-orm';
import { accountLocked, invalidCredentials, passwordExpired } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { oncePerDatabase, type Db } from '../../platform/db.ts';
import { tenants, users } from '../../platform/schema.ts';
import { audit } from '../audit/audit.ts';
import { Devices } from '../abuse/devices.ts';
import { guardLogin } from '../abuse/guard.ts';
import { sendUnlockEmail } from '../abuse/unlock.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { passwordAgeLimit } from '../password-policy/history.ts';
import { createSession, revokeSession, type SessionInfo } from '../sessions/sessions.ts';
import { invalidTicket, issueTicket, spendTicket } from './choose-tenant.ts';

export interface SignInInput {
  email: string; password: string; tenant?: string; ticket?: string; ip: string; userAgent?: string;
  /** The adaptive captcha's answer, when the client was asked for one (428). */
  captcha?: string;
  /** The browser's device cookie (trusted devices keep a failure budget of their own). */
  device?: string;
}

export type SignInResult =
  | {
    kind: 'signed-in'; token: string; expiresAt: Date; user: { id: string; email: string; name: string; role: string }; tenant: { slug: string; name: string };
    /** The device cookie to set: this browser is now trusted for the address. */
    device: string;
  }
  | { kind: 'choose-tenant'; ticket: string; tenants: { slug: string; name: string }[] };

/**
 * The accounts a sign-in may be for: an address's enabled accounts, in one tenant or in all.
 * Locked ones are verified too, so that the right password can be told the account is locked.
 */
function candidatesQuery(db: Db, inTenant: boolean) {
  return db
    .select({ u: users, t: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(and(
      eq(users.emailCanonical, sql.placeholder('email')),
      isNull(users.disabledAt),
      inTenant ? eq(tenants.slug, sql.placeholder('tenant')) : undefined,
    ))
    .prepare(inTenant ? 'keyturn_sign_in_tenant' : 'keyturn_sign_in');
}
const candidatesInTenant = oncePerDatabase((db) => candidatesQuery(db, true));
const candidatesAnywhere = oncePerDatabase((db) => candidatesQuery(db, false));

export async function signIn(ctx: Ctx, input: SignInInput): Promise<SignInResult> {
  const email = canonicalEmail(input.email);
  const devices = new Devices(ctx.secrets);
  const device = devices.idFor(input.device, email);
  // Limits, delays and the adaptive captcha come before any password is verified.
  const guard = await guardLogin(ctx, { email, ip: input.ip, tenant: input.tenant, captcha: input.captcha, device });

  const candidates = input.tenant
    ? await candidatesInTenant(ctx.db).execute({ email, tenant: input.tenant })
    : await candidatesAnywhere(ctx.db).execute({ email });
  const allowed = candidates.filter((c) => c.t.loginMethods.includes('password'));

  // Every candidate at once, padded to a fixed time (the dummy hash when there is none): the time
  // spent tells neither whether the address has an account nor how many.
  const verified = await ctx.hasher.verifyAll(allowed.map((c) => c.u.passwordHash), input.password);
  const right = allowed.filter((_, i) => verified[i]);
  const matches = right.filter((c) => !c.u.lockedAt);

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
    if (!spent || !matches.every((m) => spent.userIds.includes(m.u.id))) throw invalidTicket();
  }

  if (matches.length > 1) {
    const ticket = await issueTicket(ctx, email, matches.map((m) => m.u.id));
    return { kind: 'choose-tenant', ticket, tenants: matches.map((m) => ({ slug: m.t.slug, name: m.t.name })) };
  }

  const { u, t } = matches[0]!;
  // Only someone who knows the password learns that it expired (tenants that set a maximum age).
  const maxAgeDays = passwordAgeLimit(t);
  if (maxAgeDays !== null && (u.passwordChangedAt ?? u.createdAt).getTime() < ctx.clock.now().getTime() - maxAgeDays * 86_400_000) {
    await guard.succeeded();
    throw passwordExpired(maxAgeDays);
  }
  const session = await createSession(ctx, ctx.db, {
    userId: u.id, tenantId: t.id, authMethod: 'password', ip: input.ip, userAgent: input.userAgent, auditData: { method: 'password' },
  });
  await guard.succeeded();
  return {
    kind: 'signed-in',
    token: session.token,
    expiresAt: session.expiresAt,
    user: { id: u.id, email: u.email, name: u.name, role: u.role },
    tenant: { slug: t.slug, name: t.name },
    device: devices.remember(input.device, email),
  };
}

export async function signOut(ctx: Ctx, s: SessionInfo, ip: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    await revokeSession(tx, now, s);
    await audit(tx, { type: 'user', id: s.user.id, ip }, now, { type: 'signed_out', tenantId: s.tenant.id, userId: s.user.id });
  });
}
