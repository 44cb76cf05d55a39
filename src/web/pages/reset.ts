// /reset-password: the page behind the emailed link, and /reset-password/done.
//
// GET ?token=… never looks anything up and never consumes: it moves the token into the reset
// cookie and answers 200 with a meta refresh to the token-free URL. (A SameSite=Strict cookie set
// on a cross-site navigation — a click in webmail — would not be sent on a 302 that follows it;
// the refresh is a same-site navigation, so it is.) GET without a token inspects the proof and
// shows which account(s) it resets; POST sets the password, the server re-checking everything.
//
// A reset proves the email, never a second factor: for each account that has one, the form also
// asks for it (a code or recovery code; with JavaScript, the security key). A wrong one shows the
// form again and leaves the link as it was (completeReset consumes nothing then).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppError } from '../../errors.ts';
import { policyOf } from '../../features/password-policy/enforce.ts';
import { historyDepth } from '../../features/password-policy/history.ts';
import { completeReset, inspectReset, type ResetFactor, type ResetProof } from '../../features/password-reset/flow.ts';
import { SLUG, tenantBySlug } from '../../features/tenants/store.ts';
import type { Ctx } from '../../context.ts';
import { brandFor, brandOfSlug } from '../brand.ts';
import { html, type Html } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, form, linkButton, links, page, submit } from '../layout.ts';
import { newPasswordFields, passwordFormAttrs, policyMessage, strictestPolicy } from '../password-form.ts';
import { failedRules, pageError } from '../page-errors.ts';
import { formField, formList, messages, queryField, redirect, sendPage } from '../respond.ts';
import { answerOf, codeField, securityKeyBlock } from './factor-fields.ts';
import { outcomePage } from './reset-outcomes.ts';
import { clearProof, markDone, plausibleToken, readDone, readProof, storeProof } from './reset-proof.ts';

type Inspected = Awaited<ReturnType<typeof inspectReset>>;
type InspectedAccount = Inspected['accounts'][number];

interface FormState {
  error?: string;
  failed?: string[];
  repeatError?: string;
  chosen?: string[];
  /** A factor field's message, by tenant slug. */
  factorErrors?: Record<string, string>;
}

/**
 * The form's names for one account's factor: plain `mfa_code` / `mfa_webauthn` when the proof
 * covers one account, suffixed with the tenant's slug when it covers several (slugs are [a-z0-9-]).
 */
const factorNames = (info: Inspected, slug: string) => {
  const suffix = info.accounts.length > 1 ? `_${slug}` : '';
  return { code: `mfa_code${suffix}`, webauthn: `mfa_webauthn${suffix}`, id: `mfa-code${suffix.replace('_', '-')}`, key: `use-security-key${suffix.replace('_', '-')}` };
};

/** The second-factor block of one account that has a factor. */
function factorStep(m: Messages, info: Inspected, a: InspectedAccount & { mfa: NonNullable<InspectedAccount['mfa']> }, error: string | undefined): Html {
  const s = m.secondStep;
  const names = factorNames(info, a.tenant);
  const several = info.accounts.length > 1;
  // A security key alone has no field to put the message under: it stands under the hint.
  const code = codeField(m, { id: names.id, name: names.code, methods: a.mfa.methods, error, required: !several });
  return html`<fieldset class="mfa-factor">
<legend>${several ? s.resetLegendFor(a.tenantName) : s.resetLegend}</legend>
<p class="hint">${s.resetHint}</p>
${code || (error ? html`<p class="field-error">${error}</p>` : '')}
${a.mfa.webauthn ? securityKeyBlock(m, {
    id: names.key, name: names.webauthn, mode: 'get', options: a.mfa.webauthn, label: s.useSecurityKey, noScript: s.keyNoScript, unsupported: s.keyUnsupported,
  }) : ''}
</fieldset>`;
}

/** The factors the form carries for the chosen accounts that have one (an empty field: none). */
function factorsOf(request: FastifyRequest, info: Inspected, chosen: string[]): ResetFactor[] | 'malformed' {
  const out: ResetFactor[] = [];
  for (const a of info.accounts) {
    if (!a.mfa || !chosen.includes(a.tenant)) continue;
    const names = factorNames(info, a.tenant);
    const answer = answerOf(formField(request, names.code), formField(request, names.webauthn));
    if (answer === 'malformed') return 'malformed';
    if (answer) out.push({ ...answer, tenant: a.tenant });
  }
  return out;
}

export async function resetPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  const formPage = async (request: FastifyRequest, reply: FastifyReply, proof: ResetProof, info: Inspected, state: FormState, status = 200) => {
    const m = messages(request);
    const tenants = await Promise.all(info.accounts.map((a) => tenantBySlug(ctx.db, a.tenant)));
    const policy = strictestPolicy(tenants.map((t) => policyOf(t ?? { passwordPolicy: {} })));
    const history = Math.max(0, ...tenants.map((t) => historyDepth(t ?? { passwordPolicy: {} })));
    // A policy refusal's message names what failed: its own for a reused password (history rule).
    const policyError = state.failed ? policyMessage(m, state.failed, history) : undefined;
    const error = state.error ?? policyError;
    const several = info.accounts.length > 1;
    const chosen = state.chosen ?? info.accounts.map((a) => a.tenant);
    const accounts = several
      ? html`<fieldset>
<legend>${m.resetChooseLegend}</legend>
<p class="hint">${m.resetChooseHint}</p>
<input type="hidden" name="choose" value="1">
<ul class="choices">
${info.accounts.map((a) => html`<li><label class="choice"><input type="checkbox" name="tenants" value="${a.tenant}"${chosen.includes(a.tenant) ? html` checked` : ''}><span>${a.tenantName}<small>${info.email}</small></span></label></li>`)}
</ul>
</fieldset>`
      : html`<p class="label">${m.resetFor}</p>
<ul class="accounts"><li><span class="account-email">${info.email}</span> · ${info.accounts[0]?.tenantName ?? ''}</li></ul>`;
    return sendPage(request, reply, page({
      // A proof for one tenant's account wears that tenant's brand; one for several, Keyturn's.
      m, title: m.resetTitle, ...(tenants.length === 1 ? brandFor(tenants[0]) : {}),
      body: html`${error ? alert('error', error, 'reset-error') : ''}
${form('/reset-password', html`
<input type="text" name="username" autocomplete="username" value="${info.email}" hidden readonly>
${accounts}
${info.accounts.map((a) => (a.mfa ? factorStep(m, info, { ...a, mfa: a.mfa }, state.factorErrors?.[a.tenant]) : ''))}
${newPasswordFields({ m, policy, history, failed: state.failed, error: policyError, repeatError: state.repeatError })}
${submit(m.confirm, html` data-confirm`)}`, passwordFormAttrs(policy, info.email))}
${'token' in proof ? links([{ href: '/reset-password/code', label: m.useCodeInstead }]) : ''}`,
    }), status);
  };

  const noProofPage = (request: FastifyRequest, reply: FastifyReply, status = 200) => {
    const m = messages(request);
    return sendPage(request, reply, page({
      m, title: m.noProofTitle,
      body: html`<p>${m.noProofText}</p>
${linkButton('/reset-password/code', m.useCodeInstead)}
${links([{ href: '/forgot-password', label: m.requestNew }, { href: '/login', label: m.backToSignIn }])}`,
    }), status);
  };

  const donePage = async (request: FastifyRequest, reply: FastifyReply, slug: string) => {
    const m = messages(request);
    const signIn = SLUG.test(slug) ? `/t/${slug}/login` : '/login';
    return sendPage(request, reply, page({
      m, title: m.doneTitle, ...(await brandOfSlug(ctx, slug)),
      body: html`${alert('success', m.doneText)}${linkButton(signIn, m.signIn)}`,
    }));
  };

  const outcomeOf = (proof: ResetProof) => ({ byCode: !('token' in proof), email: 'email' in proof ? proof.email : undefined });

  /** A reset proof that does not work (any more): invalid (404), or expired, used or superseded (410). */
  const outcomes = (request: FastifyRequest, reply: FastifyReply, proof: ResetProof, failed = false) => {
    const outcome = (err: AppError) => outcomePage(ctx, request, reply, err, { ...outcomeOf(proof), failed });
    return { 404: outcome, 410: outcome };
  };

  /** Without a form to show again (the proof was not inspected yet), a refusal's message is the page. */
  const messagePage = (request: FastifyRequest, reply: FastifyReply) => (text: string, status: number) => {
    const m = messages(request);
    return sendPage(request, reply, page({ m, title: m.resetTitle, body: alert('error', text) }), status);
  };

  app.get('/reset-password', async (request, reply) => {
    const m = messages(request);
    const query = (request.query ?? {}) as Record<string, unknown>;
    if ('token' in query) {
      // Never looked up here: the next GET (token-free) inspects it. A token of the wrong shape is
      // kept as an empty one, so it ends on the same "not valid" page.
      const token = queryField(request, 'token');
      storeProof(ctx, reply, { token: plausibleToken(token) ? token : '' });
      return sendPage(request, reply, page({
        m, title: m.movingTitle,
        head: html`<meta http-equiv="refresh" content="0;url=/reset-password">`,
        body: html`<p>${m.movingText}</p>${linkButton('/reset-password', m.continue)}`,
      }));
    }
    const proof = readProof(request);
    if (!proof) {
      const done = readDone(request); // back from "done": say so, never offer the spent proof's form again
      return done ? donePage(request, reply, done.tenant) : noProofPage(request, reply);
    }
    try {
      const info = await inspectReset(ctx, proof, request.ip);
      return await formPage(request, reply, proof, info, {});
    } catch (err) {
      return pageError(m, reply, err, { again: messagePage(request, reply), status: outcomes(request, reply, proof) });
    }
  });

  app.post('/reset-password', async (request, reply) => {
    const m = messages(request);
    const proof = readProof(request);
    if (!proof) return noProofPage(request, reply, 400);
    const password = formField(request, 'password');
    const repeat = formField(request, 'repeat');
    const choose = formField(request, 'choose') === '1';
    const chosen = formList(request, 'tenants').filter((s) => SLUG.test(s));

    let info: Inspected;
    try {
      info = await inspectReset(ctx, proof, request.ip);
    } catch (err) {
      return pageError(m, reply, err, { again: messagePage(request, reply), status: outcomes(request, reply, proof, true) });
    }
    const again = (state: FormState, status: number) => formPage(request, reply, proof, info, { chosen: choose ? chosen : undefined, ...state }, status);
    if (choose && chosen.length === 0) return again({ error: m.chooseOne }, 422);
    if (password === '') return again({ failed: ['min_length'] }, 422);
    if (repeat !== password) return again({ error: m.passwordsDontMatch, repeatError: repeat === '' ? m.repeatMissing : m.passwordsDontMatch }, 422);

    const factors = factorsOf(request, info, choose ? chosen : info.accounts.map((a) => a.tenant));
    if (factors === 'malformed') return again({ error: m.secondStep.resetFactorWrong }, 422);

    try {
      const { updated } = await completeReset(ctx, proof, password, choose ? chosen : undefined, request.ip, factors);
      clearProof(ctx, reply);
      markDone(ctx, reply, updated.length === 1 ? updated[0] : undefined);
      return redirect(reply, updated.length === 1 ? `/reset-password/done?tenant=${encodeURIComponent(updated[0]!)}` : '/reset-password/done');
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => again({ error }, status),
        codes: {
          password_policy: (e) => again({ failed: failedRules(e) }, 422),
          invalid_request: () => again({ error: m.chooseOne }, 422),
          // A chosen account's factor was left empty: say which, under its field.
          mfa_required: (e) => again({ factorErrors: missingFactors(m, info, e) }, 403),
          mfa_invalid: () => again({ error: m.secondStep.resetFactorWrong }, 401),
        },
        status: outcomes(request, reply, proof, true),
      });
    }
  });

  app.get('/reset-password/done', async (request, reply) => donePage(request, reply, queryField(request, 'tenant')));
}

/** Under each factor field the refusal names: what to enter (and, with several accounts, the way out). */
function missingFactors(m: Messages, info: Inspected, err: AppError): Record<string, string> {
  const owed = Array.isArray(err.extra.accounts) ? (err.extra.accounts as { tenant?: unknown }[]) : [];
  const out: Record<string, string> = {};
  for (const { tenant } of owed) {
    const a = info.accounts.find((x) => x.tenant === tenant);
    if (a) out[a.tenant] = info.accounts.length > 1 ? m.secondStep.resetFactorMissing(a.tenantName) : m.secondStep.codeMissing;
  }
  return out;
}
