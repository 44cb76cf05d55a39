// /login/verify and /login/enroll: the second step of a browser's sign-in (CONTRACT §7). The
// password page (or Google's callback) left the ticket in the sealed held-step cookie
// (features/sign-in/held-step.ts); it never sits in a URL or in the page. Both routes live in one
// Fastify context whose preHandler opens the held ticket once — none, dead, or of the other kind
// sends the browser on (back to sign-in with a sentence, or to the other page) — and the handlers
// read what it found (stepOf).
//
// /login/verify asks for the factor: a code (six digits: the app's; anything else: a recovery
// code) or, with JavaScript, the security key. /login/enroll is for an account its tenant requires
// a factor of and that has none: add an authenticator app (QR code and key to type, then a code)
// or a security key, see the recovery codes once, then Continue makes the session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { deviceCookieOf, setDeviceCookie } from '../../features/abuse/devices.ts';
import type { Account } from '../../features/accounts/store.ts';
import type { Actor } from '../../features/audit/audit.ts';
import {
  addWebauthn, confirmTotp, pendingTotp, secondStepMethods, startTotp, webauthnRegistration, type SecondStepOffer,
} from '../../features/mfa/factors.ts';
import { recoveryCodesText } from '../../features/mfa/recovery-codes.ts';
import { activeFactors, type Ticket } from '../../features/mfa/store.ts';
import { openTicket, type TicketPurpose } from '../../features/mfa/tickets.ts';
import { groupedSecret } from '../../features/mfa/totp.ts';
import { setSessionCookie } from '../../features/sessions/plugin.ts';
import { clearSecondStep, heldSecondStep, type HeldStep } from '../../features/sign-in/held-step.ts';
import { finishSecondStep, ticketAccount } from '../../features/sign-in/second-step.ts';
import { secondStepPurpose, type SignedIn } from '../../features/sign-in/signed-in.ts';
import { brandFor } from '../brand.ts';
import { html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, field, form, links, page, submit } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { formField, messages, redirect, safeNext, sendPage } from '../respond.ts';
import { answerOf, codeField, securityKeyBlock } from './factor-fields.ts';

/** What the preHandler found: the held step, its live ticket and the account it signs in. */
interface OpenStep { held: HeldStep; row: Ticket; account: Account; }

const stepOf = (request: FastifyRequest) => request.getDecorator<OpenStep>('secondStep');

const PAGES: Record<HeldStep['kind'], { path: string; purpose: TicketPurpose }> = {
  'mfa-required': { path: '/login/verify', purpose: 'sign_in' },
  'mfa-enrollment-required': { path: '/login/enroll', purpose: 'enroll' },
};

/** Why the browser is back on the sign-in page: `?second-step=` there picks the sentence. */
type Back = 'again' | 'worn-out';

/** The sign-in page's notice for `?second-step=` (login.ts). */
export function secondStepNotice(m: Messages, value: string): string | undefined {
  if (value === 'worn-out') return m.secondStep.wornOut;
  return value === 'again' ? m.secondStep.signInAgain : undefined;
}

export async function secondStepPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  const clientOf = (request: FastifyRequest, held: HeldStep) => ({ binding: held.binding, ip: request.ip, userAgent: request.headers['user-agent'] });

  /** The step is over without a session: the cookie goes, and sign-in says why. */
  const backToSignIn = (reply: FastifyReply, why: Back, held: HeldStep | null, account?: Account) => {
    clearSecondStep(ctx, reply);
    const next = held?.returnTo && safeNext(held.returnTo) !== '/account' ? `&next=${encodeURIComponent(safeNext(held.returnTo))}` : '';
    return redirect(reply, `${account ? `/t/${account.tenant.slug}/login` : '/login'}?second-step=${why}${next}`);
  };

  /** Signed in: the session and device cookies replace the held step; on to where sign-in was going. */
  const signedIn = (reply: FastifyReply, held: HeldStep, done: SignedIn) => {
    setSessionCookie(ctx, reply, done.token, done.expiresAt);
    setDeviceCookie(ctx, reply, done.device);
    clearSecondStep(ctx, reply);
    return redirect(reply, safeNext(held.returnTo ?? ''));
  };

  await app.register(async (steps) => {
    steps.decorateRequest('secondStep', null);
    steps.addHook('preHandler', async (request, reply) => {
      const held = heldSecondStep(ctx, request);
      if (!held) return backToSignIn(reply, 'again', null);
      const wanted = PAGES[held.kind];
      if (!wanted) return backToSignIn(reply, 'again', null);
      if (request.routeOptions.url !== wanted.path) return redirect(reply, wanted.path);
      try {
        const row = await openTicket(ctx, held.ticket, clientOf(request, held), wanted.purpose);
        request.setDecorator<OpenStep>('secondStep', { held, row, account: await ticketAccount(ctx, row) });
      } catch (err) {
        if (err instanceof AppError && err.code === 'invalid_ticket') return backToSignIn(reply, 'again', held);
        throw err;
      }
    });
    verifyRoutes(steps);
    enrollRoutes(steps);
  });

  // ── /login/verify ──────────────────────────────────────────────────────────────────────────────

  interface VerifyState { alert?: string; codeError?: string; }

  /** The form, with WebAuthn options minted for this ticket on each showing (they are stateless). */
  async function verifyPage(request: FastifyRequest, reply: FastifyReply, state: VerifyState, status = 200) {
    const m = messages(request);
    const s = m.secondStep;
    const { held, row, account } = stepOf(request);
    const offer: SecondStepOffer | null = await secondStepMethods(ctx, row.userId, secondStepPurpose(row.ticketHash));
    // Every factor went meanwhile (an admin's reset ends the ticket too, but not a removal).
    if (!offer) return backToSignIn(reply, 'again', held, account);
    // A security key alone (no app, no recovery codes left) leaves nothing to type.
    const code = codeField(m, { id: 'code', name: 'code', methods: offer.methods, error: state.codeError, autofocus: true });
    const key = offer.webauthn
      ? html`${code ? html`<p class="divider"><span>${m.or}</span></p>` : ''}
${securityKeyBlock(m, {
    id: 'use-security-key', name: 'webauthn', mode: 'get', options: offer.webauthn, label: s.useSecurityKey,
    noScript: s.keyNoScript, unsupported: s.keyUnsupported, submit: true,
  })}`
      : '';
    return sendPage(request, reply, page({
      m, title: s.verifyTitle, ...brandFor(account.tenant),
      body: html`${state.alert ? alert('error', state.alert, 'verify-error') : ''}
<p>${row.authMethod === 'google' ? s.verifyIntroGoogle : s.verifyIntro}</p>
<ul class="accounts"><li><span class="account-email">${account.user.email}</span> · ${account.tenant.name}</li></ul>
${form('/login/verify', html`
${code ? html`${code}${submit(s.verify)}` : ''}
${key}`)}
<p class="mfa-lost">${s.lostFactor}</p>
${links([{ href: `/t/${account.tenant.slug}/login`, label: m.backToSignIn }])}`,
    }), status);
  }

  function verifyRoutes(steps: FastifyInstance) {
    steps.get('/login/verify', (request, reply) => verifyPage(request, reply, {}));

    steps.post('/login/verify', async (request, reply) => {
      const m = messages(request);
      const s = m.secondStep;
      const { held, account } = stepOf(request);
      const answer = answerOf(formField(request, 'code'), formField(request, 'webauthn'));
      if (answer === null) return verifyPage(request, reply, { codeError: s.codeMissing }, 422);
      if (answer === 'malformed') return verifyPage(request, reply, { codeError: s.codeWrong }, 422);
      try {
        const done = await finishSecondStep(ctx, { ticket: held.ticket, client: { ...clientOf(request, held), device: deviceCookieOf(request) }, answer });
        return signedIn(reply, held, done);
      } catch (err) {
        return pageError(m, reply, err, {
          again: (text, status) => verifyPage(request, reply, { alert: text }, status),
          codes: {
            mfa_invalid: (e) => {
              const left = typeof e.extra.attemptsLeft === 'number' ? e.extra.attemptsLeft : undefined;
              if (left === 0) return backToSignIn(reply, 'worn-out', held, account);
              const text = `${answer.method === 'webauthn' ? s.keyWrong : s.codeWrong}${left === undefined ? '' : ` ${s.attemptsLeft(left)}`}`;
              return verifyPage(request, reply, answer.method === 'webauthn' ? { alert: text } : { codeError: text }, 401);
            },
            invalid_ticket: () => backToSignIn(reply, 'again', held, account),
          },
        });
      }
    });
  }

  // ── /login/enroll ──────────────────────────────────────────────────────────────────────────────

  const actorOf = (request: FastifyRequest, account: Account): Actor => ({ type: 'user', id: account.user.id, ip: request.ip });
  const stepField = (step: string) => html`<input type="hidden" name="step" value="${step}">`;
  const enrollPage = (request: FastifyRequest, reply: FastifyReply, title: string, body: Part, status = 200) => {
    const m = messages(request);
    return sendPage(request, reply, page({ m, title, body, ...brandFor(stepOf(request).account.tenant) }), status);
  };
  const finishForm = (m: Messages) => form('/login/enroll', html`${stepField('finish')}${submit(m.secondStep.finish)}`);

  /** The choice: an authenticator app (no script needed) or a security key (with script). */
  async function startPage(request: FastifyRequest, reply: FastifyReply, error?: string, status = 200) {
    const m = messages(request);
    const s = m.secondStep;
    const { account } = stepOf(request);
    if ((await activeFactors(ctx.db, account.user.id)).length > 0) {
      // Added already (a reload after the recovery codes, say): only the sign-in is left to finish.
      return enrollPage(request, reply, s.enrollTitle, html`${alert('success', s.enrollAlreadyDone)}${finishForm(m)}`, status);
    }
    return enrollPage(request, reply, s.enrollTitle, html`${error ? alert('error', error, 'enroll-error') : ''}
<p>${s.enrollIntro(account.tenant.name)}</p>
<ul class="accounts"><li><span class="account-email">${account.user.email}</span> · ${account.tenant.name}</li></ul>
${form('/login/enroll', html`${stepField('app')}${submit(s.enrollApp)}`)}
<p class="divider"><span>${m.or}</span></p>
${form('/login/enroll', html`${stepField('key')}
<p class="hint">${s.enrollKeyHint}</p>
${securityKeyBlock(m, {
    id: 'add-security-key', name: 'webauthn', mode: 'create', options: await webauthnRegistration(ctx, account), label: s.enrollKey,
    noScript: s.enrollKeyNoScript, unsupported: s.enrollKeyUnsupported, submit: true,
  })}`)}
${links([{ href: `/t/${account.tenant.slug}/login`, label: m.backToSignIn }])}`, status);
  }

  /**
   * The app's QR code and key, and the code to confirm it. Only the pending factor's id travels in
   * the form: a mistyped code shows the same QR code again from the stored factor (pendingTotp).
   */
  async function appPage(request: FastifyRequest, reply: FastifyReply, pending: { id: string; secret: string; qrSvg: string }, error?: string, status = 200) {
    const m = messages(request);
    const t = m.security;
    return enrollPage(request, reply, t.totpTitle, html`<p>${t.totpScan}</p>
<p><img class="mfa-qr" src="data:image/svg+xml;base64,${Buffer.from(pending.qrSvg, 'utf8').toString('base64')}" alt="${t.qrAlt}" width="200" height="200"></p>
<p>${t.totpManual}</p>
<p><code class="mfa-secret" id="totp-secret">${groupedSecret(pending.secret)}</code></p>
${form('/login/enroll', html`${stepField('confirm')}
<input type="hidden" name="factor" value="${pending.id}">
${field({ id: 'totp-code', name: 'code', type: 'text', label: t.totpCode, hint: t.totpCodeHint, autocomplete: 'one-time-code', inputmode: 'numeric', autofocus: true, error, value: '' })}
${submit(t.totpConfirm)}`)}
${links([{ href: '/login/enroll', label: t.cancel }])}`, status);
  }

  /** The recovery codes, this once, and the button that makes the session. */
  function codesPage(request: FastifyRequest, reply: FastifyReply, codes: string[] | undefined) {
    const m = messages(request);
    const { account } = stepOf(request);
    const list = codes && codes.length > 0
      ? html`<h2>${m.security.codesTitle}</h2>
<p>${m.security.codesShownOnce(codes.length)}</p>
<ul class="mfa-codes" id="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
<p><a class="btn btn-secondary" download="recovery-codes.txt" href="data:text/plain;charset=utf-8,${encodeURIComponent(recoveryCodesText(codes, `${account.user.email} (${account.tenant.name})`))}">${m.security.codesDownload}</a></p>`
      : '';
    return enrollPage(request, reply, m.secondStep.enrollTitle, html`${alert('success', m.secondStep.enrollDone)}${list}${finishForm(m)}`);
  }

  function enrollRoutes(steps: FastifyInstance) {
    steps.get('/login/enroll', (request, reply) => startPage(request, reply));

    steps.post('/login/enroll', async (request, reply) => {
      const m = messages(request);
      const { held, account } = stepOf(request);
      const actor = actorOf(request, account);
      const step = formField(request, 'step');
      try {
        if (step === 'app') return await appPage(request, reply, await startTotp(ctx, account));
        if (step === 'confirm') return await confirmApp(request, reply, actor);
        if (step === 'key') {
          const answer = answerOf('', formField(request, 'webauthn'));
          if (answer === null || answer === 'malformed' || answer.method !== 'webauthn') return await startPage(request, reply, m.secondStep.keyFailed, 422);
          return codesPage(request, reply, (await addWebauthn(ctx, account, answer.response as never, '', actor)).recoveryCodes);
        }
        if (step === 'finish') return signedIn(reply, held, await finishSecondStep(ctx, { ticket: held.ticket, client: { ...clientOf(request, held), device: deviceCookieOf(request) } }));
        return await startPage(request, reply);
      } catch (err) {
        return pageError(m, reply, err, {
          again: (text, status) => startPage(request, reply, text, status),
          codes: {
            mfa_invalid: () => startPage(request, reply, m.security.keyRejected, 401),
            invalid_ticket: () => backToSignIn(reply, 'again', held, account),
            mfa_enrollment_required: () => startPage(request, reply, undefined, 409),
          },
        });
      }
    });
  }

  /** Confirms the app with its first code; a wrong code shows the same QR code again. */
  async function confirmApp(request: FastifyRequest, reply: FastifyReply, actor: Actor) {
    const m = messages(request);
    const { account } = stepOf(request);
    const id = formField(request, 'factor');
    if (!/^[0-9a-f-]{36}$/i.test(id)) return startPage(request, reply, m.security.totpExpired, 409);
    const code = formField(request, 'code').trim();
    const again = async (text: string, status: number) => appPage(request, reply, await pendingTotp(ctx, account, id), text, status);
    try {
      if (code === '' || code.length > 20) return await again(m.security.totpWrongCode, 422);
      return codesPage(request, reply, (await confirmTotp(ctx, account, id, code, actor)).recoveryCodes);
    } catch (err) {
      return pageError(m, reply, err, {
        again: (text, status) => again(text, status),
        codes: {
          mfa_invalid: () => again(m.security.totpWrongCode, 401),
          mfa_enrollment_expired: () => startPage(request, reply, m.security.totpExpired, 409),
          not_found: () => startPage(request, reply, m.security.totpExpired, 409),
        },
      });
    }
  }
}
