// /settings/security: the signed-in person's second factors (CONTRACT §7). The list, adding an
// authenticator app (QR code and key to type, confirmed with a code), adding a security key or
// passkey, removing one, new recovery codes. Every change asks for the password again, as the
// JSON API does; the pages call the same feature functions (factors.ts) and repeat none of their
// rules. Everything works without JavaScript except the security key, which needs the browser's
// WebAuthn API: client/security.ts fetches the creation options from the JSON API, lets the
// browser make the credential, and posts it here in a hidden field.
//
// Secrets on these pages: the authenticator app's key is on the page that sets it up (the answer
// to a POST, never a URL) and nowhere after it is confirmed. New recovery codes travel from the POST
// to the page that shows them in a sealed HttpOnly cookie, read once (POST-redirect-GET, like the
// admin console's made link), so Back or reload never shows them again.
//
// The pages are a Fastify context of their own: one preHandler (signedInOnly) finds the session
// and its account, checks the CSRF token of a post, and leaves both to the handlers (signedIn).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod';
import { confirmPassword } from '../../features/accounts/current-password.ts';
import { accountById, type Account } from '../../features/accounts/store.ts';
import type { Actor } from '../../features/audit/audit.ts';
import {
  addWebauthn, confirmTotp, factorView, mfaStatus, pendingTotp, removeFactor, renewRecoveryCodes, startTotp,
} from '../../features/mfa/factors.ts';
import { RECOVERY_CODE_COUNT, recoveryCodesText } from '../../features/mfa/recovery-codes.ts';
import { groupedSecret } from '../../features/mfa/totp.ts';
import { csrfTokenFor, requireSession } from '../../features/sessions/plugin.ts';
import { wrongPassword } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { brandFor } from '../brand.ts';
import { html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, field, form, linkButton, links, page, submit, time } from '../layout.ts';
import { pageError, type Answer, type PageErrorCases } from '../page-errors.ts';
import { formField, isAppError, messages, queryField, redirect, sendPage } from '../respond.ts';

const HOME = '/settings/security';

/** New recovery codes wait for the page that shows them in this cookie: sealed, five minutes, read once. */
const CODES_COOKIE = 'keyturn_recovery_codes';

type Done = keyof Messages['security']['done'];
type Listed = ReturnType<typeof factorView>;
type Section = 'totp' | 'key' | 'codes';

/** The signed-in person of a request, as signedInOnly found them. */
interface SignedIn { account: Account; csrf: string; actor: Actor; }

/** What the overview shows besides the factors: a notice, or a refusal and where it belongs. */
interface OverviewState { done?: Done; error?: string; at?: Section; passwordError?: string; }

const isUuid = (id: string) => z.uuid().safeParse(id).success;

export async function securityPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  await app.register(async (pages) => {
    pages.decorateRequest('signedIn', null);
    pages.addHook('preHandler', signedInOnly(ctx));
    securityRoutes(pages, ctx);
  });
}

// ── the door ─────────────────────────────────────────────────────────────────────────────────────

/**
 * No session → sign in and come back (to the overview after a post: a form's page cannot be
 * re-made from its action); the account gone → the same. A post needs the session's CSRF token;
 * a stale one shows the overview again with "this form expired".
 */
function signedInOnly(ctx: Ctx) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const s = await request.session();
    const account = s ? await accountById(ctx.db, s.user.id) : undefined;
    if (!s || !account) return redirect(reply, `/login?next=${encodeURIComponent(request.method === 'GET' ? request.url : HOME)}`);
    request.setDecorator<SignedIn>('signedIn', { account, csrf: csrfTokenFor(ctx, s), actor: { type: 'user', id: s.user.id, ip: request.ip } });
    if (request.method !== 'POST') return;
    try {
      await requireSession(ctx, request);
    } catch (err) {
      if (!isAppError(err, 'csrf_failed')) throw err;
      return overview(ctx, request, reply, { error: messages(request).formExpired }, 403);
    }
  };
}

const signedIn = (request: FastifyRequest) => request.getDecorator<SignedIn>('signedIn');

// ── pieces ───────────────────────────────────────────────────────────────────────────────────────

function shell(request: FastifyRequest, reply: FastifyReply, title: string, body: Part, status = 200): FastifyReply {
  const m = messages(request);
  return sendPage(request, reply, page({ m, title, body, ...brandFor(signedIn(request).account.tenant) }), status);
}

/** The hidden fields of every form here: the CSRF token, and the address for password managers. */
function hidden(request: FastifyRequest): Part {
  const { csrf, account } = signedIn(request);
  return html`<input type="hidden" name="_csrf" value="${csrf}">
<input type="text" name="username" autocomplete="username" value="${account.user.email}" hidden readonly>`;
}

const passwordField = (m: Messages, id: string, error?: string) =>
  field({ id, name: 'currentPassword', label: m.currentPassword, type: 'password', autocomplete: 'current-password', error });

const factorName = (m: Messages, f: Listed) => f.label || m.security.type[f.type];

// ── the overview ─────────────────────────────────────────────────────────────────────────────────

async function overview(ctx: Ctx, request: FastifyRequest, reply: FastifyReply, state: OverviewState, status = 200): Promise<FastifyReply> {
  const m = messages(request);
  const t = m.security;
  const { account } = signedIn(request);
  const { factors, recoveryCodesLeft, required } = await mfaStatus(ctx, account);
  const now = ctx.clock.now();
  const errorAt = (section: Section) => (state.at === section ? state.passwordError : undefined);

  const list = factors.length === 0
    ? html`<p>${t.none}</p>`
    : html`<ul class="plain-list factors">${factors.map((f) => html`<li>
<span><strong>${factorName(m, f)}</strong> <span class="badge">${t.type[f.type]}</span></span>
<span class="muted">${t.addedAt} ${time(m, new Date(f.createdAt), now)} · ${t.lastUsed} ${f.lastUsedAt ? time(m, new Date(f.lastUsedAt), now) : t.neverUsed}</span>
<a href="${HOME}/remove/${f.id}" aria-label="${t.removeNamed(factorName(m, f))}">${t.remove}</a>
</li>`)}</ul>`;

  const codes = factors.length === 0 ? '' : html`<section aria-labelledby="codes-heading">
<h2 id="codes-heading">${t.codesHeading}</h2>
<p id="codes-left">${t.codesLeft(recoveryCodesLeft, RECOVERY_CODE_COUNT)}</p>
${form(`${HOME}/recovery-codes`, html`${hidden(request)}
${passwordField(m, 'codes-password', errorAt('codes'))}
<p class="hint">${t.codesRenewHint}</p>
<button class="btn btn-secondary" type="submit">${t.codesRenew}</button>`)}
</section>`;

  // Without JavaScript the button stays disabled and the status says why; the script enables it.
  const key = html`<section aria-labelledby="key-heading">
<h2 id="key-heading">${t.keyHeading}</h2>
<p>${t.keyIntro}</p>
${form(`${HOME}/key`, html`${hidden(request)}
<input type="hidden" name="response" value="">
${passwordField(m, 'key-password', errorAt('key'))}
${field({ id: 'key-label', name: 'label', label: t.keyLabel, type: 'text', autocomplete: 'off', required: false, hint: t.labelHint, attrs: html` maxlength="100"` })}
<div class="alert alert-info" role="status" aria-live="polite" data-key-status>${t.keyNoScript}</div>
<button class="btn btn-secondary" type="submit" disabled data-key-submit>${t.keyAdd}</button>`,
  html` data-add-security-key data-unsupported="${t.keyUnsupported}" data-working="${t.keyWorking}" data-cancelled="${t.keyCancelled}" data-exists="${t.keyExists}" data-rejected="${t.keyRejected}" data-wrong-password="${m.wrongCurrent}" data-too-many="${t.tooManyLater}" data-expired="${m.formExpired}"`)}
</section>`;

  return shell(request, reply, t.title, html`${state.done ? alert('success', t.done[state.done]) : ''}
${state.error ? alert('error', state.error, 'security-error') : ''}
<p class="lead">${m.signedInAs(account.user.email, account.tenant.name)}</p>
<p>${t.intro}</p>
${required ? alert('info', t.required) : ''}
<section aria-labelledby="factors-heading">
<h2 id="factors-heading">${t.factorsHeading}</h2>
${list}
</section>
${codes}
<section aria-labelledby="totp-heading">
<h2 id="totp-heading">${t.totpHeading}</h2>
<p>${t.totpIntro}</p>
${form(`${HOME}/totp`, html`${hidden(request)}
${passwordField(m, 'totp-password', errorAt('totp'))}
<button class="btn btn-secondary" type="submit">${t.totpStart}</button>`)}
</section>
${key}
${links([{ href: '/account', label: m.backToAccount }])}`, status);
}

// ── setting up an authenticator app ──────────────────────────────────────────────────────────────

interface Enrolment { id: string; secret: string; qrSvg: string; }
interface SetupState { error?: string; codeError?: string; label?: string; }

function setupPage(request: FastifyRequest, reply: FastifyReply, enrolment: Enrolment, state: SetupState, status = 200): FastifyReply {
  const m = messages(request);
  const t = m.security;
  const qr = Buffer.from(enrolment.qrSvg, 'utf8').toString('base64');
  return shell(request, reply, t.totpTitle, html`${state.error ? alert('error', state.error, 'setup-error') : ''}
<p>${t.totpScan}</p>
<p><img class="mfa-qr" src="data:image/svg+xml;base64,${qr}" alt="${t.qrAlt}" width="200" height="200"></p>
<p>${t.totpManual}</p>
<p><code class="mfa-secret" id="totp-secret">${groupedSecret(enrolment.secret)}</code></p>
${form(`${HOME}/totp/confirm`, html`${hidden(request)}
<input type="hidden" name="id" value="${enrolment.id}">
${field({ id: 'totp-label', name: 'label', label: t.totpLabel, type: 'text', autocomplete: 'off', required: false, hint: t.labelHint, value: state.label, attrs: html` maxlength="100"` })}
${field({ id: 'totp-code', name: 'code', label: t.totpCode, type: 'text', autocomplete: 'one-time-code', inputmode: 'numeric', hint: t.totpCodeHint, error: state.codeError, attrs: html` maxlength="10"` })}
${submit(t.totpConfirm)}`)}
${links([{ href: HOME, label: t.cancel }])}`, status);
}

// ── removing a factor ────────────────────────────────────────────────────────────────────────────

function removePage(request: FastifyRequest, reply: FastifyReply, factor: Listed, state: { error?: string; passwordError?: string }, status = 200): FastifyReply {
  const m = messages(request);
  const t = m.security;
  return shell(request, reply, t.removeTitle(factorName(m, factor)), html`${state.error ? alert('error', state.error, 'remove-error') : ''}
<p>${t.removeText}</p>
${form(`${HOME}/remove/${factor.id}`, html`${hidden(request)}
${passwordField(m, 'remove-password', state.passwordError)}
<div class="button-row"><button class="btn btn-danger" type="submit">${t.remove}</button>${linkButton(HOME, t.cancel, 'secondary')}</div>`)}`, status);
}

// ── the routes ───────────────────────────────────────────────────────────────────────────────────

/** New recovery codes on their way to the page that shows them, and why they were made. */
interface HeldCodes { codes: string[]; done: Done; }

function securityRoutes(app: FastifyInstance, ctx: Ctx) {
  const cookie = { path: HOME, httpOnly: true, sameSite: 'strict', secure: ctx.config.publicUrl.startsWith('https:') } as const;
  // Bound to the account: another account's browser cannot open it.
  const sealContext = (account: Account) => `recovery-codes\0${account.user.id}`;

  /** After a change that made new codes: they wait in the cookie, and the browser goes to see them. */
  function showCodesNext(reply: FastifyReply, account: Account, held: HeldCodes): FastifyReply {
    reply.setCookie(CODES_COOKIE, ctx.secrets.seal(JSON.stringify(held), 'outbox', sealContext(account)), { ...cookie, maxAge: 300 });
    return redirect(reply, `${HOME}/recovery-codes`);
  }

  function takeCodes(request: FastifyRequest, reply: FastifyReply, account: Account): HeldCodes | null {
    const raw = request.cookies[CODES_COOKIE];
    if (!raw) return null;
    reply.clearCookie(CODES_COOKIE, cookie);
    try {
      return JSON.parse(ctx.secrets.open(raw, 'outbox', sealContext(account))) as HeldCodes;
    } catch {
      return null; // not sealed by us, or sealed for another account
    }
  }

  /** The account when the form's password is right; else wrong_password (counted when one was typed). */
  async function withPassword(request: FastifyRequest): Promise<Account> {
    const password = formField(request, 'currentPassword');
    if (password === '') throw wrongPassword();
    return confirmPassword(ctx, signedIn(request).account.user.id, password);
  }

  /** A refused change: the password not right, a rate limit, or what the handler names in `codes`. */
  const refused = (m: Messages, reply: FastifyReply, err: unknown, again: (text: string, status: number, passwordError?: string) => Answer, codes: PageErrorCases['codes'] = {}) =>
    pageError(m, reply, err, { again, codes: { wrong_password: () => again(m.wrongCurrent, 403, m.wrongCurrentField), ...codes } });

  app.get(HOME, async (request, reply) => {
    const done = queryField(request, 'done');
    return overview(ctx, request, reply, Object.hasOwn(messages(request).security.done, done) ? { done: done as Done } : {});
  });

  app.post(`${HOME}/totp`, async (request, reply) => {
    const again = (error: string, status: number, passwordError?: string) => overview(ctx, request, reply, { error, at: 'totp', passwordError }, status);
    try {
      const account = await withPassword(request);
      return setupPage(request, reply, await startTotp(ctx, account), {});
    } catch (err) {
      return refused(messages(request), reply, err, again);
    }
  });

  app.post(`${HOME}/totp/confirm`, async (request, reply) => {
    const m = messages(request);
    const t = m.security;
    const { account, actor } = signedIn(request);
    const id = formField(request, 'id');
    const code = formField(request, 'code').trim();
    const label = formField(request, 'label').trim().slice(0, 100);
    const expired = (status: number) => overview(ctx, request, reply, { error: t.totpExpired }, status);
    if (!isUuid(id)) return expired(400);
    // The same QR code and key again, with what went wrong: the pending factor still holds them.
    const again = async (state: SetupState, status: number) => {
      try {
        return setupPage(request, reply, await pendingTotp(ctx, account, id), { label, ...state }, status);
      } catch (err) {
        if (isAppError(err, 'not_found') || isAppError(err, 'mfa_enrollment_expired')) return expired(409);
        throw err;
      }
    };
    if (code === '') return again({ codeError: t.totpCodeMissing }, 422);
    try {
      const added = await confirmTotp(ctx, account, id, code, actor, label || t.type.totp);
      if (added.recoveryCodes) return showCodesNext(reply, account, { codes: added.recoveryCodes, done: 'totp-added' });
      return redirect(reply, `${HOME}?done=totp-added`);
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => again({ error }, status),
        codes: {
          mfa_invalid: () => again({ error: t.totpWrongCode, codeError: t.totpCodeWrongField }, 401),
          mfa_enrollment_expired: () => expired(409),
          not_found: () => expired(404),
        },
      });
    }
  });

  app.post(`${HOME}/key`, async (request, reply) => {
    const m = messages(request);
    const t = m.security;
    const { account, actor } = signedIn(request);
    const again = (error: string, status: number) => overview(ctx, request, reply, { error, at: 'key' }, status);
    const raw = formField(request, 'response');
    // Empty: the form was sent without the script (it keeps the button disabled, but still).
    if (raw === '') return again(t.keyNoScript, 400);
    const response = registrationResponse(raw);
    if (!response) return again(t.keyRejected, 400);
    try {
      const added = await addWebauthn(ctx, account, response, formField(request, 'label').trim().slice(0, 100) || t.keyDefaultLabel, actor);
      if (added.recoveryCodes) return showCodesNext(reply, account, { codes: added.recoveryCodes, done: 'key-added' });
      return redirect(reply, `${HOME}?done=key-added`);
    } catch (err) {
      return pageError(m, reply, err, {
        again, codes: { mfa_invalid: () => again(t.keyRejected, 401), factor_exists: () => again(t.keyExists, 409) },
      });
    }
  });

  /** The factor a remove URL names, if the account has it. */
  async function factorOf(request: FastifyRequest<{ Params: { id: string } }>): Promise<Listed | undefined> {
    const { id } = request.params;
    if (!isUuid(id)) return undefined;
    return (await mfaStatus(ctx, signedIn(request).account)).factors.find((f) => f.id === id);
  }

  const gone = (request: FastifyRequest, reply: FastifyReply) => overview(ctx, request, reply, { error: messages(request).security.gone }, 404);

  app.get<{ Params: { id: string } }>(`${HOME}/remove/:id`, async (request, reply) => {
    const factor = await factorOf(request);
    return factor ? removePage(request, reply, factor, {}) : gone(request, reply);
  });

  app.post<{ Params: { id: string } }>(`${HOME}/remove/:id`, async (request, reply) => {
    const m = messages(request);
    const factor = await factorOf(request);
    if (!factor) return gone(request, reply);
    const again = (error: string, status: number, passwordError?: string) => removePage(request, reply, factor, { error, passwordError }, status);
    try {
      await removeFactor(ctx, await withPassword(request), factor.id, signedIn(request).actor);
      return redirect(reply, `${HOME}?done=removed`);
    } catch (err) {
      return refused(m, reply, err, again, {
        mfa_required_by_tenant: () => again(m.security.requiredByTenant, 409),
        not_found: () => gone(request, reply),
      });
    }
  });

  app.post(`${HOME}/recovery-codes`, async (request, reply) => {
    const again = (error: string, status: number, passwordError?: string) => overview(ctx, request, reply, { error, at: 'codes', passwordError }, status);
    try {
      const account = await withPassword(request);
      const codes = await renewRecoveryCodes(ctx, account, signedIn(request).actor);
      return showCodesNext(reply, account, { codes, done: 'codes-renewed' });
    } catch (err) {
      // not_found: the last factor went meanwhile (another tab), and the codes with it.
      return refused(messages(request), reply, err, again, { not_found: () => redirect(reply, HOME) });
    }
  });

  app.get(`${HOME}/recovery-codes`, async (request, reply) => {
    const t = messages(request).security;
    const { account } = signedIn(request);
    const held = takeCodes(request, reply, account);
    if (!held) return redirect(reply, HOME); // shown once: a reload lands on the overview
    const file = recoveryCodesText(held.codes, `${account.user.email} (${account.tenant.name})`);
    return shell(request, reply, t.codesTitle, html`${alert('success', t.done[held.done])}
<p>${t.codesShownOnce(held.codes.length)}</p>
<ul class="mfa-codes" id="recovery-codes">${held.codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
<div class="button-row">
<a class="btn btn-secondary" download="recovery-codes.txt" href="data:text/plain;charset=utf-8,${encodeURIComponent(file)}">${t.codesDownload}</a>
${linkButton(HOME, t.codesSaved)}
</div>`);
  });
}

const RegistrationResponse = z.looseObject({ id: z.string().max(2000) });

/** The browser's registration response from the hidden field; null when it is not one. */
function registrationResponse(raw: string): RegistrationResponseJSON | null {
  try {
    const parsed = RegistrationResponse.safeParse(JSON.parse(raw));
    return parsed.success ? (parsed.data as unknown as RegistrationResponseJSON) : null;
  } catch {
    return null; // not JSON
  }
}
