// Second factors behind one interface: what an account has, adding and removing them, recovery
// codes, an admin's reset, and proving one inside the caller's transaction (sign-in's second step,
// a reset). README.md beside this file has the rules in prose.
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import {
  factorExists, factorNotFound, mfaEnrollmentExpired, mfaInvalid, mfaRequiredByTenant, notFound, type MfaMethod,
} from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import type { Db } from '../../platform/db.ts';
import { enqueueMail, type MailContent } from '../../platform/outbox/outbox.ts';
import { LimitKeys } from '../abuse/keys.ts';
import { newLockUrl } from '../accounts/after-password-set.ts';
import { audit, type Actor } from '../audit/audit.ts';
import type { Account } from '../accounts/store.ts';
import { brandOf, mailBrandOf, mfaRequirementOf, senderOf } from '../tenants/settings.ts';
import type { Tenant } from '../tenants/store.ts';
import { factorAddedEmail, factorRemovedEmail, factorsResetEmail, recoveryCodesRenewedEmail, recoveryCodeUsedEmail } from './emails.ts';
import { newRecoveryCodes, normalizeRecoveryCode, recoveryCodeHash } from './recovery-codes.ts';
import {
  acceptTotpStep, activateTotp, activeFactors, deleteAllFactors, deleteFactor, deletePending, endTickets, factorById,
  factorsAndCodesLeft, insertFactor, labelFactor, recoveryCodesLeft, replaceRecoveryCodes, touchWebauthn, useRecoveryCode, type Factor, type FactorType,
} from './store.ts';
import { newTotpSecret, otpauthUrl, qrSvg, stepOfCode } from './totp.ts';
import { authenticationOptions, registrationOptions, verifyAuthentication, verifyRegistration } from './webauthn.ts';

/** A TOTP factor must be confirmed with a code this soon after it was started. */
const PENDING_TTL_MS = 15 * 60_000;

/** What a second step proves, as OpenID amr values (RFC 8176). */
export const AMR: Record<MfaMethod, string> = { totp: 'otp', webauthn: 'hwk', recovery_code: 'otp' };

export type Answer =
  | { method: 'totp'; code: string }
  | { method: 'recovery_code'; code: string }
  | { method: 'webauthn'; response: AuthenticationResponseJSON };

export const factorView = (f: Factor) => ({
  id: f.id, type: f.type as FactorType, label: f.label, createdAt: f.createdAt.toISOString(), lastUsedAt: f.lastUsedAt?.toISOString() ?? null,
});

/** Whether this tenant requires a second factor of this account. */
export function factorRequired(tenant: Pick<Tenant, 'settings'>, role: string): boolean {
  const rule = mfaRequirementOf(tenant);
  // Supervisors count as admins here: they hand out reset links and end other people's sessions.
  return rule === 'everyone' || (rule === 'admins' && (role === 'admin' || role === 'supervisor'));
}

export async function mfaStatus(ctx: Pick<Ctx, 'db'>, { user, tenant }: Account) {
  const factors = await activeFactors(ctx.db, user.id);
  return {
    factors: factors.map(factorView),
    recoveryCodesLeft: factors.length > 0 ? await recoveryCodesLeft(ctx.db, user.id) : 0,
    required: factorRequired(tenant, user.role),
  };
}

/** The ways this account can pass a second step, and its security keys; null without a factor. */
async function methodsOf(db: Db, userId: string): Promise<{ methods: MfaMethod[]; keys: Factor[] } | null> {
  const { factors, codesLeft } = await factorsAndCodesLeft(db, userId);
  if (factors.length === 0) return null;
  const methods: MfaMethod[] = [];
  if (factors.some((f) => f.type === 'totp')) methods.push('totp');
  const keys = factors.filter((f) => f.type === 'webauthn');
  if (keys.length > 0) methods.push('webauthn');
  if (codesLeft > 0) methods.push('recovery_code');
  return { methods, keys };
}

export type SecondStepOffer = { methods: MfaMethod[]; webauthn?: Awaited<ReturnType<typeof authenticationOptions>> };

/** The ways this account can pass a second step, with WebAuthn options for `purpose`; null without a factor. */
export async function secondStepMethods(ctx: Pick<Ctx, 'config' | 'db' | 'secrets' | 'clock'>, userId: string, purpose: string): Promise<SecondStepOffer | null> {
  const found = await methodsOf(ctx.db, userId);
  if (!found) return null;
  return { methods: found.methods, ...(found.keys.length > 0 ? { webauthn: await authenticationOptions(ctx, found.keys, purpose) } : {}) };
}

/** The methods alone (no WebAuthn challenge is minted): what a refusal lists. */
export const secondStepMethodList = async (db: Db, userId: string): Promise<MfaMethod[]> => (await methodsOf(db, userId))?.methods ?? [];

// ── proving a factor ───────────────────────────────────────────────────────────────────────────

/**
 * Proves one answer for an account inside the caller's transaction, so that what the proof uses up
 * (a TOTP step, a recovery code) and what the caller does with it (a session, a reset) commit or
 * roll back together. A wrong answer counts against the account (mfaFailuresPerAccount) and throws
 * 401 mfa_invalid; a spent budget throws 429 before anything is checked.
 */
export async function proveFactor(ctx: Ctx, tx: Db, account: Account, answer: Answer, purpose: string): Promise<{ amr: string }> {
  const key = new LimitKeys(ctx.secrets).user(account.user.id);
  await ctx.limits.check('mfaFailuresPerAccount', key);
  const ok = await check(ctx, tx, account, answer, purpose);
  if (!ok) {
    await ctx.limits.penalty('mfaFailuresPerAccount', key);
    throw mfaInvalid();
  }
  return { amr: AMR[answer.method] };
}

async function check(ctx: Ctx, tx: Db, account: Account, answer: Answer, purpose: string): Promise<boolean> {
  const now = ctx.clock.now();
  const userId = account.user.id;
  const factors = await activeFactors(tx, userId);
  if (factors.length === 0) return false;
  if (answer.method === 'totp') {
    for (const f of factors.filter((x) => x.type === 'totp')) {
      const step = stepOfCode(openSecret(ctx, f), answer.code, now);
      // Right code: accepted only if its step is newer than the last one used (a code works once).
      if (step !== null) return acceptTotpStep(tx, f.id, step, now);
    }
    return false;
  }
  if (answer.method === 'webauthn') {
    const proved = await verifyAuthentication(ctx, factors, purpose, answer.response);
    if (!proved) return false;
    await touchWebauthn(tx, proved.factor.id, proved.signCount, now);
    return true;
  }
  const code = normalizeRecoveryCode(answer.code);
  if (!code || !(await useRecoveryCode(tx, userId, recoveryCodeHash(ctx.secrets, userId, code), now))) return false;
  const left = await recoveryCodesLeft(tx, userId);
  await audit(tx, { type: 'user', id: userId }, now, { type: 'mfa_recovery_code_used', tenantId: account.tenant.id, userId, data: { left } });
  await notify(ctx, tx, account, 'mfa_recovery_code_used', recoveryCodeUsedEmail({
    tenantName: account.tenant.name, at: now, left, lockUrl: await newLockUrl(ctx, tx, { userId, tenantSlug: account.tenant.slug }, now), brand: mailBrandOf(account.tenant),
  }));
  return true;
}

const openSecret = (ctx: Pick<Ctx, 'secrets'>, f: Factor) => ctx.secrets.open(f.sealedSecret!, 'mfa', f.userId);

// ── adding ─────────────────────────────────────────────────────────────────────────────────────

/** Starts an authenticator app: a pending factor with a new secret, shown this once. */
export async function startTotp(ctx: Ctx, { user, tenant }: Account) {
  const now = ctx.clock.now();
  await deletePending(ctx.db, user.id);
  const secret = newTotpSecret();
  const factor = (await insertFactor(ctx.db, {
    userId: user.id, type: 'totp', label: 'Authenticator app', status: 'pending',
    sealedSecret: ctx.secrets.seal(secret, 'mfa', user.id), createdAt: now,
  }))!;
  const url = otpauthUrl(secret, brandOf(tenant).name, user.email);
  return { id: factor.id, secret, otpauthUrl: url, qrSvg: await qrSvg(url) };
}

/**
 * The same pending authenticator app again, for a page that must show its QR code once more after a
 * mistyped code (a JSON client keeps what startTotp returned). Only while it may still be confirmed.
 */
export async function pendingTotp(ctx: Ctx, { user, tenant }: Account, id: string) {
  const pending = await factorById(ctx.db, user.id, id);
  if (!pending || pending.type !== 'totp') throw factorNotFound();
  if (pending.status !== 'pending' || pending.createdAt.getTime() < ctx.clock.now().getTime() - PENDING_TTL_MS) throw mfaEnrollmentExpired();
  const secret = openSecret(ctx, pending);
  const url = otpauthUrl(secret, brandOf(tenant).name, user.email);
  return { id, secret, otpauthUrl: url, qrSvg: await qrSvg(url) };
}

/** Confirms a pending authenticator app with its first code; the first factor comes with recovery codes. */
export async function confirmTotp(ctx: Ctx, account: Account, id: string, code: string, actor: Actor, label?: string) {
  const pending = await factorById(ctx.db, account.user.id, id);
  if (!pending || pending.type !== 'totp') throw factorNotFound();
  const now = ctx.clock.now();
  if (pending.status !== 'pending' || pending.createdAt.getTime() < now.getTime() - PENDING_TTL_MS) throw mfaEnrollmentExpired();
  const key = new LimitKeys(ctx.secrets).user(account.user.id);
  await ctx.limits.check('mfaFailuresPerAccount', key);
  const step = stepOfCode(openSecret(ctx, pending), code, now);
  if (step === null) {
    await ctx.limits.penalty('mfaFailuresPerAccount', key);
    throw mfaInvalid();
  }
  return mailingTransaction(ctx, async (tx) => {
    if (!(await activateTotp(tx, id, step, now))) throw mfaEnrollmentExpired();
    const factor = { ...pending, status: 'active', lastStep: step, lastUsedAt: now, label: label ?? pending.label };
    if (label) await labelFactor(tx, id, label);
    return added(ctx, tx, account, factor, actor);
  });
}

export async function webauthnRegistration(ctx: Ctx, { user, tenant }: Account) {
  return registrationOptions(ctx, user, await activeFactors(ctx.db, user.id), brandOf(tenant).name);
}

/** Adds a security key or passkey from the browser's registration response. */
export async function addWebauthn(ctx: Ctx, account: Account, response: RegistrationResponseJSON, label: string, actor: Actor) {
  const credential = await verifyRegistration(ctx, account.user.id, response);
  if (!credential) throw mfaInvalid();
  return mailingTransaction(ctx, async (tx) => {
    const factor = await insertFactor(tx, {
      userId: account.user.id, type: 'webauthn', label: label || 'Security key', status: 'active',
      credentialId: credential.credentialId, publicKey: credential.publicKey, signCount: credential.signCount,
      transports: credential.transports, aaguid: credential.aaguid, createdAt: ctx.clock.now(),
    });
    if (!factor) throw factorExists();
    return added(ctx, tx, account, factor, actor);
  });
}

/** After a factor is added: recovery codes with the first one, audit, and the owner's notice. */
async function added(ctx: Ctx, tx: Db, account: Account, factor: Factor, actor: Actor) {
  const { user, tenant } = account;
  const now = ctx.clock.now();
  const first = (await activeFactors(tx, user.id)).length === 1;
  let recoveryCodes: string[] | undefined;
  if (first) {
    const set = newRecoveryCodes(ctx.secrets, user.id);
    await replaceRecoveryCodes(tx, user.id, set.hashes, now);
    recoveryCodes = set.codes;
  }
  await audit(tx, actor, now, { type: 'mfa_factor_added', tenantId: tenant.id, userId: user.id, data: { factorId: factor.id, type: factor.type, label: factor.label } });
  await notify(ctx, tx, account, 'mfa_factor_added', factorAddedEmail({
    tenantName: tenant.name, type: factor.type as FactorType, label: factor.label, at: now,
    lockUrl: await newLockUrl(ctx, tx, { userId: user.id, tenantSlug: tenant.slug }, now), brand: mailBrandOf(tenant),
  }));
  return { factor: factorView(factor), ...(recoveryCodes ? { recoveryCodes } : {}) };
}

// ── removing, renewing, resetting ──────────────────────────────────────────────────────────────

/** Removes one factor; the last one takes the recovery codes with it (they stand in for a factor). */
export async function removeFactor(ctx: Ctx, account: Account, id: string, actor: Actor): Promise<void> {
  const { user, tenant } = account;
  await mailingTransaction(ctx, async (tx) => {
    const factor = await factorById(tx, user.id, id);
    if (!factor || factor.status !== 'active') throw factorNotFound();
    const left = (await activeFactors(tx, user.id)).length - 1;
    if (left === 0 && factorRequired(tenant, user.role)) throw mfaRequiredByTenant();
    const now = ctx.clock.now();
    await deleteFactor(tx, user.id, id);
    if (left === 0) await replaceRecoveryCodes(tx, user.id, [], now);
    await audit(tx, actor, now, { type: 'mfa_factor_removed', tenantId: tenant.id, userId: user.id, data: { factorId: id, type: factor.type, label: factor.label } });
    await notify(ctx, tx, account, 'mfa_factor_removed', factorRemovedEmail({
      tenantName: tenant.name, type: factor.type as FactorType, label: factor.label, at: now,
      lockUrl: await newLockUrl(ctx, tx, { userId: user.id, tenantSlug: tenant.slug }, now), brand: mailBrandOf(tenant),
    }));
  });
}

/** A new set of recovery codes; the old set stops working. Only for an account with a factor. */
export async function renewRecoveryCodes(ctx: Ctx, account: Account, actor: Actor): Promise<string[]> {
  const { user, tenant } = account;
  return mailingTransaction(ctx, async (tx) => {
    if ((await activeFactors(tx, user.id)).length === 0) throw notFound('Add an authenticator app or a security key first: recovery codes stand in for one.');
    const now = ctx.clock.now();
    const set = newRecoveryCodes(ctx.secrets, user.id);
    await replaceRecoveryCodes(tx, user.id, set.hashes, now);
    await audit(tx, actor, now, { type: 'mfa_recovery_codes_renewed', tenantId: tenant.id, userId: user.id });
    await notify(ctx, tx, account, 'mfa_recovery_codes_renewed', recoveryCodesRenewedEmail({
      tenantName: tenant.name, at: now, lockUrl: await newLockUrl(ctx, tx, { userId: user.id, tenantSlug: tenant.slug }, now), brand: mailBrandOf(tenant),
    }));
    return set.codes;
  });
}

/**
 * A lost phone: an admin (or the operator) removes every factor and recovery code, with a reason.
 * Every session and open second step ends; the owner is told; the audit keeps the reason.
 */
export async function resetFactors(ctx: Ctx, account: Account, reason: string, actor: Actor): Promise<{ removed: number }> {
  const { user, tenant } = account;
  const removed = await mailingTransaction(ctx, async (tx) => {
    const now = ctx.clock.now();
    const n = await deleteAllFactors(tx, [user.id]);
    await endTickets(tx, [user.id], now);
    const revoked = await ctx.sessions.revoke(tx, [user.id], 'mfa_reset');
    await audit(tx, actor, now, { type: 'mfa_reset', tenantId: tenant.id, userId: user.id, data: { reason, factorsRemoved: n, sessionsRevoked: revoked } });
    await notify(ctx, tx, account, 'mfa_reset', factorsResetEmail({ tenantName: tenant.name, at: now, reason, brand: mailBrandOf(tenant) }));
    return n;
  });
  return { removed };
}

/** A transaction that queues the owner's notice; the worker is woken once it commits. */
async function mailingTransaction<T>(ctx: Pick<Ctx, 'db' | 'worker'>, work: (tx: Db) => Promise<T>): Promise<T> {
  const out = await ctx.db.transaction(work);
  ctx.worker.kick();
  return out;
}

async function notify(ctx: Pick<Ctx, 'config' | 'secrets' | 'clock'>, tx: Db, { user, tenant }: Account, kind: string, mail: MailContent): Promise<void> {
  await enqueueMail(tx, ctx.secrets, ctx.clock, { ...mail, kind, to: user.email, tenantId: tenant.id, userId: user.id, from: senderOf(ctx.config.mailFrom, tenant) });
}
