// Every way a reset link or code can stop working, each as a page with the one next step:
// expired → request a new one (pre-filled when the reader typed the address), used → sign in,
// superseded → use the newest email (or ask the admin who made a newer link), invalid → enter the code or request a new email. The same
// pages, headed "Password reset failed", explain a link that died while the form was open.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppError } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { html, type Html } from '../html.ts';
import { linkButton, links, page, time, type PageBrand } from '../layout.ts';
import { messages, sendPage } from '../respond.ts';
import { forgotForm } from './forgot.ts';
import { clearProof } from './reset-proof.ts';

export interface OutcomeInput {
  /** True when a submit failed (the token died while the page was open). */
  failed?: boolean;
  /** The address the reader typed (code path): safe to pre-fill. */
  email?: string;
  /** The proof was a code, not a link. */
  byCode?: boolean;
  /** The tenant's brand, when the page was reached from one tenant's code page. */
  brand?: PageBrand;
}

export function outcomePage(ctx: Pick<Ctx, 'clock' | 'config'>, request: FastifyRequest, reply: FastifyReply, err: AppError, o: OutcomeInput = {}): FastifyReply {
  const m = messages(request);
  const now = ctx.clock.now();
  const at = typeof err.extra.at === 'string' ? new Date(err.extra.at) : now;
  const when = time(m, at, now);
  const reason = typeof err.extra.reason === 'string' ? err.extra.reason : undefined;
  const requestNew = forgotForm(m, { email: o.email, submitLabel: m.requestNew });

  let title: string;
  let body: Html;
  switch (err.code) {
    case 'token_expired':
      title = m.expiredTitle;
      body = html`<p>${m.expiredText(when)}</p>${requestNew}`;
      break;
    case 'token_used':
      title = m.usedTitle;
      body = html`<p>${m.usedText(when)}</p>${linkButton('/login', m.signIn)}${links([{ href: '/forgot-password', label: m.requestNew }])}`;
      break;
    case 'token_superseded':
      if (reason === 'account_unavailable') {
        title = m.revokedTitle;
        body = html`<p>${m.unavailableText}</p>${linkButton('/login', m.backToSignIn, 'secondary')}`;
      } else if (reason) {
        title = m.revokedTitle;
        body = html`<p>${m.revokedText(when)}</p>${requestNew}`;
      } else if (err.extra.newer === 'link') {
        title = m.supersededByAdminTitle;
        body = html`<p>${m.supersededByAdminText(when)}</p>${requestNew}${links([{ href: '/login', label: m.backToSignIn }])}`;
      } else {
        title = m.supersededTitle;
        body = html`<p>${m.supersededText(when)}</p>${links([{ href: '/forgot-password', label: m.requestNew }, { href: '/login', label: m.backToSignIn }])}`;
      }
      break;
    default: // token_invalid
      title = m.invalidTitle;
      body = o.byCode
        ? html`<p>${m.codeWrong}</p>${linkButton('/reset-password/code', m.codeTitle)}${links([{ href: '/forgot-password', label: m.requestNew }])}`
        : html`<p>${m.invalidText}</p>${linkButton('/reset-password/code', m.useCodeInstead)}${links([{ href: '/forgot-password', label: m.requestNew }])}`;
  }
  clearProof(ctx, reply); // a dead proof is of no further use
  const content = o.failed ? html`<p class="alert alert-error" role="alert"><strong>${title}.</strong> ${m.failedIntro}</p>${body}` : body;
  return sendPage(request, reply, page({ m, title: o.failed ? m.failedTitle : title, body: content, brand: o.brand }), err.status);
}
