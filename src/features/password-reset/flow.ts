// The reset flow: requested → sent → (opened) → completed | expired | superseded | revoked.
// See README.md beside this file for the rules in prose.
import { randomUUID } from 'node:crypto';
import { AppError, invalidRequest, mfaRequiredForReset, tokenAccountUnavailable, tokenExpired, tokenRevoked, tokenSuperseded, tokenUsed } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { formatCode, randomCode, randomToken } from '../../platform/crypto.ts';
import type { Db } from '../../platform/db.ts';
import { RateLimits } from '../../platform/rate-limit.ts';
import { slices } from '../../platform/batch.ts';
import { enqueueMail, enqueueMails, type MailContent } from '../../platform/outbox/outbox.ts';
import { audit, auditAll, type Actor } from '../audit/audit.ts';
import { Devices } from '../abuse/devices.ts';
import { guardForgot } from '../abuse/guard.ts';
import { LimitKeys } from '../abuse/keys.ts';
import { clearThrottles, runAfterPasswordSet } from '../accounts/after-password-set.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { accountsByEmail, addressesWithAccounts, setPasswordHash, type Account } from '../accounts/store.ts';
import { proveFactor, secondStepMethodList, secondStepMethods, type Answer } from '../mfa/factors.ts';
import { usersWithFactors } from '../mfa/store.ts';
import { enforcePolicy } from '../password-policy/enforce.ts';
import { ssoEnforced, ssoOnly, tenantLoginUrl } from '../sso/connection.ts';
import { mailBrandOf, resetTtlMs, senderOf } from '../tenants/settings.ts';
import { allowsPassword } from '../tenants/store.ts';
import { countReset, reasonOf } from './metrics.ts';
import { findByCode, codeHash } from './by-code.ts';
import { findByLink, tokenHash } from './by-link.ts';
import { accountDisabledEmail, googleAccountResetEmail, resetEmail, ssoEnforcedEmail, type ResetMailInput } from './emails/messages.ts';
import {
  claimRequests, consumeToken, insertTokens, closeRequests, recentSelfToken, releaseRequests, requestRecorder,
  supersedeTokens, tokenById, type ResetToken,
} from './store.ts';

/** The two ways to prove a reset: the link's token, or the address plus the emailed code. */
export type ResetProof = { token: string } | { email: string; code: string };

const usable = (a: Account) => !a.user.disabledAt && !a.user.lockedAt && allowsPassword(a.tenant);

// ── requested ──────────────────────────────────────────────────────────────────────────────────

/**
 * Records the request and returns. The same work happens for every address (known, disabled,
 * unknown), so the answer's status, body and timing say nothing; the worker resolves it later.
 */
export async function requestReset(ctx: Ctx, input: { email: string; tenant?: string; ip: string; captcha?: string; device?: string }): Promise<void> {
  const email = canonicalEmail(input.email);
  try {
    const device = new Devices(ctx.secrets).idFor(input.device, email);
    const row = { emailCanonical: email, tenantSlug: input.tenant ?? null, ip: input.ip, createdAt: ctx.clock.now() };
    await guardForgot(ctx, { email, tenant: input.tenant, ip: input.ip, captcha: input.captcha, device }, { insert: requestRecorder(ctx.db), row });
  } catch (e) {
    countReset(ctx.tallies.resets, 'request_refused', reasonOf(e));
    throw e;
  }
  countReset(ctx.tallies.resets, 'requested', 'self_service');
  ctx.worker.kick();
}

/** Requests within this window after a self-service email are coalesced into it (forgotEmailCooldown; "off" = none). */
function sinceCooldown(ctx: Pick<Ctx, 'clock' | 'limits'>): Date | null {
  const rule = ctx.limits.rule('forgotEmailCooldown');
  return rule.points === null ? null : new Date(ctx.clock.now().getTime() - rule.windowMs);
}

/**
 * Worker job: turns recorded requests into a reset email (worded for Google sign-in when none of the
 * accounts has a password), a "password sign-in is off" email (SSO-enforced tenants, no link), an
 * "account disabled" email, or nothing.
 */
export async function resolveRequests(ctx: Ctx): Promise<number> {
  const claimed = await claimRequests(ctx.db, ctx.clock.now(), 50, ctx.config.outbox.leaseMs);
  // Addresses with no account anywhere need nothing but closing: one statement for all of them.
  const known = await addressesWithAccounts(ctx.db, [...new Set(claimed.map((r) => r.email_canonical))]);
  await closeRequests(ctx.db, claimed.filter((r) => !known.has(r.email_canonical)).map((r) => r.id));
  const pending = claimed.filter((r) => known.has(r.email_canonical));
  for (const [i, req] of pending.entries()) {
    if (ctx.worker.stopping) {
      await releaseRequests(ctx.db, pending.slice(i).map((r) => r.id));
      return claimed.length - pending.length + i;
    }
    await ctx.db.transaction(async (tx) => {
      if ((await closeRequests(tx, [req.id])).length === 0) return; // another worker resolved it
      const found = await accountsByEmail(tx, req.email_canonical, { tenantSlug: req.tenant_slug ?? undefined });
      const covered = found.filter(usable);
      const disabled = found.filter((a) => a.user.disabledAt || a.user.lockedAt);
      const enforced = found.filter((a) => !a.user.disabledAt && !a.user.lockedAt && ssoEnforced(a.tenant));
      const actor: Actor = { type: 'user', ip: req.ip };
      const since = covered.length > 0 ? sinceCooldown(ctx) : null;
      const recent = since ? await recentSelfToken(tx, req.email_canonical, since) : undefined;
      if (recent && covered.every((a) => recent.tenantIds.includes(a.tenant.id))) {
        // Cooldown: the email sent moments ago already covers these accounts; another would only
        // supersede it (and its link would say so). The answer was the same 202 either way.
        for (const a of covered) {
          await audit(tx, actor, ctx.clock.now(), { type: 'password_reset_coalesced', tenantId: a.tenant.id, userId: a.user.id, data: { tokenId: recent.id } });
        }
      } else if (covered.length > 0) {
        const signInUrl = tenantLoginUrl(ctx.config.publicUrl, covered[0]!.tenant);
        const mail = covered.every(ssoOnly) ? (p: ResetMailInput) => googleAccountResetEmail({ ...p, signInUrl }) : undefined;
        // Several tenants' accounts share one link: it lives as long as the shortest of their lifetimes.
        const ttlMs = Math.min(...covered.map((a) => resetTtlMs(ctx.config, a.tenant)));
        await issueReset(ctx, tx, { accounts: covered, origin: 'self', actor, ttlMs, deliver: 'email', mail });
      } else if (enforced.length > 0) {
        const first = enforced[0]!;
        const mail = ssoEnforcedEmail({ tenantNames: enforced.map((a) => a.tenant.name), signInUrl: tenantLoginUrl(ctx.config.publicUrl, first.tenant), brand: mailBrandOf(enforced.map((a) => a.tenant)) });
        await enqueueMail(tx, ctx.secrets, ctx.clock, { ...mail, kind: 'sso_enforced', to: first.user.email, tenantId: first.tenant.id, userId: first.user.id, from: senderOf(ctx.config.mailFrom, first.tenant) });
        for (const a of enforced) {
          await audit(tx, actor, ctx.clock.now(), { type: 'password_reset_refused', tenantId: a.tenant.id, userId: a.user.id, data: { reason: 'sso_enforced' } });
        }
      } else if (disabled.length > 0) {
        const first = disabled[0]!;
        const mail = accountDisabledEmail({ tenantNames: disabled.map((a) => a.tenant.name), brand: mailBrandOf(disabled.map((a) => a.tenant)) });
        await enqueueMail(tx, ctx.secrets, ctx.clock, { ...mail, kind: 'account_disabled', to: first.user.email, tenantId: first.tenant.id, userId: first.user.id, from: senderOf(ctx.config.mailFrom, first.tenant) });
        for (const a of disabled) {
          await audit(tx, actor, ctx.clock.now(), { type: 'password_reset_refused', tenantId: a.tenant.id, userId: a.user.id, data: { reason: 'account_disabled' } });
        }
      }
    });
  }
  return claimed.length;
}

// ── sent ───────────────────────────────────────────────────────────────────────────────────────

export interface IssueInput {
  accounts: Account[];            // same address, one or several tenants
  origin: 'self' | 'admin';
  actor: Actor;
  ttlMs: number;
  deliver: 'email' | 'link';
  reason?: string;
  /** Words the email differently (e.g. for Google sign-in accounts); the reset email by default. */
  mail?: (p: ResetMailInput) => MailContent;
  /** The outbox kind of that email ('password_reset' by default; 'welcome' for a new user). */
  kind?: string;
}

/**
 * Makes a token and a code for these accounts, supersedes older ones for the address, audits, and
 * queues the email (or returns the link for an admin to copy). Self-service and admin resets both
 * come through here: the admin door is the same flow.
 */
export async function issueReset(ctx: Ctx, tx: Db, input: IssueInput): Promise<Issued> {
  return (await issueResets(ctx, tx, [input]))[0]!;
}

export interface Issued { url: string; expiresAt: Date; }

/** How many resets share each statement of issueResets. */
const ISSUE_BATCH = 500;

/**
 * issueReset for many addresses at once (an import's welcome emails): the same rows, written a
 * few statements per batch instead of four or five per address. The answers are in input order.
 */
export async function issueResets(ctx: Ctx, tx: Db, inputs: IssueInput[]): Promise<Issued[]> {
  // Older tokens are superseded before the batch's own are written: two for one address would both live.
  if (new Set(inputs.map((i) => i.accounts[0]?.user.emailCanonical)).size !== inputs.length) throw new Error('issueResets takes one reset per address');
  const now = ctx.clock.now();
  const issued: Issued[] = [];
  for (const batch of slices(inputs, ISSUE_BATCH)) {
    const made = batch.map((input) => {
      const first = input.accounts[0];
      if (!first) throw new Error('issueReset needs at least one account');
      const token = randomToken();
      const code = randomCode();
      return {
        input, first, email: first.user.emailCanonical, tenantIds: input.accounts.map((a) => a.tenant.id),
        id: randomUUID(), token, code, url: `${ctx.config.publicUrl}/reset-password?token=${token}`, expiresAt: new Date(now.getTime() + input.ttlMs),
      };
    });
    await supersedeTokens(tx, made.map((m) => ({ email: m.email, tenantIds: m.tenantIds, by: m.input.deliver })), now);
    await insertTokens(tx, made.map((m) => ({
      id: m.id,
      emailCanonical: m.email,
      tenantIds: m.tenantIds,
      tokenHash: tokenHash(ctx, m.token),
      codeHash: codeHash(ctx, m.email, m.code),
      origin: m.input.origin,
      createdBy: m.input.actor.type === 'user' ? null : `${m.input.actor.type}:${m.input.actor.id ?? ''}`,
      reason: m.input.reason ?? null,
      createdAt: now,
      expiresAt: m.expiresAt,
    })));
    await auditAll(tx, now, made.flatMap(({ input, id, expiresAt }) => input.accounts.map((a) => ({
      actor: input.actor,
      event: {
        type: input.origin === 'admin' ? 'admin_reset_issued' : 'password_reset_requested',
        tenantId: a.tenant.id,
        userId: a.user.id,
        data: {
          tokenId: id, delivery: input.deliver, expiresAt: expiresAt.toISOString(),
          ...(input.reason ? { reason: input.reason } : {}), ...(input.kind ? { kind: input.kind } : {}),
        },
      },
    }))));
    const mails = made.filter((m) => m.input.deliver === 'email').map(({ input, first, url, code, expiresAt }) => {
      // The code page wears the tenant's brand when the code is for one tenant's account.
      const codeUrl = `${ctx.config.publicUrl}/reset-password/code${input.accounts.length === 1 ? `?tenant=${first.tenant.slug}` : ''}`;
      const mail = (input.mail ?? resetEmail)({
        url, codeUrl, code: formatCode(code), expiresAt,
        tenantNames: input.accounts.map((a) => a.tenant.name), byAdmin: input.origin === 'admin', brand: mailBrandOf(input.accounts.map((a) => a.tenant)),
      });
      // Always to the stored address, never to what was typed.
      return { ...mail, kind: input.kind ?? 'password_reset', to: first.user.email, tenantId: first.tenant.id, userId: first.user.id, from: senderOf(ctx.config.mailFrom, first.tenant) };
    });
    if (mails.length > 0) {
      await enqueueMails(tx, ctx.secrets, ctx.clock, mails);
      ctx.worker.kick();
    }
    issued.push(...made.map((m) => ({ url: m.url, expiresAt: m.expiresAt })));
  }
  return issued;
}

// ── opened / completed ─────────────────────────────────────────────────────────────────────────

/** Why a token can no longer be used, or null when it is live. */
export function deadReason(t: ResetToken, now: Date): AppError | null {
  if (t.usedAt) return tokenUsed(t.usedAt);
  if (t.supersededAt) return tokenSuperseded(t.supersededAt, t.supersededBy === 'link' ? 'link' : 'email');
  if (t.revokedAt) return tokenRevoked(t.revokedAt, t.revokedReason);
  if (t.expiresAt.getTime() <= now.getTime()) return tokenExpired(t.expiresAt);
  return null;
}

/**
 * Only proofs that find nothing count against the address (resetPerIp): a spent budget refuses
 * every proof from it, but a floor of people behind one address opening good links never spends it.
 */
async function findToken(ctx: Pick<Ctx, 'clock' | 'db' | 'limits' | 'secrets'>, proof: ResetProof, ip: string): Promise<ResetToken> {
  const key = new LimitKeys(ctx.secrets).ip(ip);
  const points = ctx.limits.rule('resetPerIp').points;
  const [count] = await ctx.limits.counts([{ name: 'resetPerIp', key }]);
  if (points !== null && count!.consumed >= points) RateLimits.refuse(count!.msBeforeNext);
  try {
    return await ('token' in proof ? findByLink(ctx, proof.token) : findByCode(ctx, proof.email, proof.code));
  } catch (e) {
    if (e instanceof AppError && e.status === 404) await ctx.limits.penalty('resetPerIp', key);
    throw e;
  }
}

/** The live token and the accounts it still covers; never changes anything (mail scanners open links). */
async function liveToken(ctx: Ctx, proof: ResetProof, ip: string): Promise<{ token: ResetToken; accounts: Account[] }> {
  const token = await findToken(ctx, proof, ip);
  const dead = deadReason(token, ctx.clock.now());
  if (dead) throw dead;
  const accounts = (await accountsByEmail(ctx.db, token.emailCanonical, { tenantIds: token.tenantIds })).filter(usable);
  if (accounts.length === 0) throw tokenAccountUnavailable(token.createdAt);
  return { token, accounts };
}

/** WebAuthn challenges for a reset are bound to the token and the account. */
const resetPurpose = (token: ResetToken, a: Account) => `reset\0${token.id}\0${a.user.id}`;

export async function inspectReset(ctx: Ctx, proof: ResetProof, ip: string) {
  const { token, accounts } = await liveToken(ctx, proof, ip);
  return {
    expiresAt: token.expiresAt.toISOString(),
    email: accounts[0]!.user.email,
    accounts: await Promise.all(accounts.map(async (a) => ({
      tenant: a.tenant.slug, tenantName: a.tenant.name,
      // The second factor the reset of this account will ask for, if it has one.
      mfa: await secondStepMethods(ctx, a.user.id, resetPurpose(token, a)),
    }))),
  };
}

/** The second factor proved for one account of a reset. */
export type ResetFactor = Answer & { tenant: string };

export async function completeReset(
  ctx: Ctx, proof: ResetProof, password: string, tenantSlugs: string[] | undefined, ip: string, factors: ResetFactor[] = [],
): Promise<{ updated: string[] }> {
  try {
    const done = await complete(ctx, proof, password, tenantSlugs, ip, factors);
    countReset(ctx.tallies.resets, 'completed', 'token' in proof ? 'link' : 'code');
    return done;
  } catch (e) {
    countReset(ctx.tallies.resets, 'failed', reasonOf(e));
    throw e;
  }
}

async function complete(
  ctx: Ctx, proof: ResetProof, password: string, tenantSlugs: string[] | undefined, ip: string, factors: ResetFactor[],
): Promise<{ updated: string[] }> {
  const { token, accounts } = await liveToken(ctx, proof, ip);
  let chosen = accounts;
  if (tenantSlugs) {
    const unknown = tenantSlugs.filter((s) => !accounts.some((a) => a.tenant.slug === s));
    if (unknown.length > 0 || tenantSlugs.length === 0) {
      throw invalidRequest('tenants: choose one or more of the accounts this link covers.', { field: 'tenants' });
    }
    chosen = accounts.filter((a) => tenantSlugs.includes(a.tenant.slug));
  }
  // A reset proves the email, never a second factor: each chosen account that has one must prove
  // it too. Asked before anything is spent (the link stays valid), and again in the transaction,
  // for a factor added meanwhile.
  const owedFactors = async (db: Db) => {
    const withFactor = await usersWithFactors(db, chosen.map((a) => a.user.id));
    const owed = chosen.filter((a) => withFactor.has(a.user.id));
    const unanswered = owed.filter((a) => !factors.some((f) => f.tenant === a.tenant.slug));
    if (unanswered.length > 0) {
      throw mfaRequiredForReset(await Promise.all(unanswered.map(async (a) => ({ tenant: a.tenant.slug, methods: await secondStepMethodList(db, a.user.id) }))));
    }
    return owed;
  };
  await owedFactors(ctx.db);
  try {
    await enforcePolicy(ctx, password, chosen.map((a) => ({ tenant: a.tenant, email: a.user.email, user: a.user })));
  } catch (e) {
    // A concurrent submit may have used the link meanwhile (its new password then reads as "reused"):
    // the person must hear that the link was used, not that the password breaks a rule.
    const fresh = await tokenById(ctx.db, token.id);
    throw (fresh && deadReason(fresh, ctx.clock.now())) ?? e;
  }
  const passwordHash = await ctx.hasher.hash(password); // outside the transaction: hashing is the slow part

  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    // The factors and the token in one transaction: a right factor is not used up by a reset that
    // did not happen, and a wrong one (401 mfa_invalid, counted per account) rolls the token back.
    // The token first: of two submits of one right answer, the loser hears that the link was used,
    // instead of finding the code used and being charged a wrong answer.
    if (!(await consumeToken(tx, token.id, now))) {
      // Lost a race with another submit, or the token died meanwhile: report its state now.
      const fresh = await tokenById(tx, token.id);
      throw (fresh && deadReason(fresh, now)) ?? tokenUsed(now);
    }
    for (const a of await owedFactors(tx)) await proveFactor(ctx, tx, a, factors.find((f) => f.tenant === a.tenant.slug)!, resetPurpose(token, a));
    await setPasswordHash(tx, chosen.map((a) => a.user.id), passwordHash, now);
    await runAfterPasswordSet(ctx, tx, { accounts: chosen, how: 'reset', actor: { type: 'user', id: chosen[0]!.user.id, ip }, at: now, passwordHash });
  });
  ctx.worker.kick();
  await clearThrottles(ctx, chosen, ip);
  return { updated: chosen.map((a) => a.tenant.slug) };
}
