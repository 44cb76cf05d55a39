// /forgot-password and /t/{slug}/forgot-password: one email field. Every address gets the same
// "Check your email" page (POST-redirect-GET, so nothing about the address is in the URL), which
// names the address typed; a rate limit shows "Too many requests — try again in N minutes".
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deviceCookieOf } from '../../features/abuse/devices.ts';
import { parseEmail } from '../../features/accounts/email.ts';
import { requestReset } from '../../features/password-reset/flow.ts';
import { resetTtlMs } from '../../features/tenants/settings.ts';
import { tenantBySlug, type Tenant } from '../../features/tenants/store.ts';
import type { Ctx } from '../../context.ts';
import { captchaBlock, type CaptchaAsk } from '../captcha.ts';
import { brandFor } from '../brand.ts';
import { html, type Html } from '../html.ts';
import { durationText, type Messages } from '../i18n/index.ts';
import { alert, field, form, links, page, submit } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { formField, messages, redirect, sendPage } from '../respond.ts';
import { forgotPath } from './login.ts';
import { notFoundPage } from './not-found.ts';

const loginPath = (slug?: string) => (slug ? `/t/${slug}/login` : '/login');

// The "Check your email" page says which address it sent to: the one typed, whether or not an
// account uses it (the words are the same either way). It travels from the POST to that page in
// this cookie. Not in the URL: an address is personal data, and URLs stay in the history, in access
// logs and in Referer headers. Not by answering the POST with the page: a reload would post again
// and send a second email. The cookie is sealed with the server key (AES-GCM, so it can be neither
// read nor forged on the way), HttpOnly, SameSite=Strict, scoped to this form's path and gone after
// 10 minutes; every POST that reaches the sent page sets it the same way, known address or not.
const SENT_COOKIE = 'keyturn_sent_to';
const SENT_COOKIE_SECONDS = 10 * 60;

/** The request form; also embedded in the "link expired" pages. */
export function forgotForm(m: Messages, v: { slug?: string; email?: string; error?: string; submitLabel?: string; captcha?: CaptchaAsk }): Html {
  return form(forgotPath(v.slug), html`
${field({ id: 'email', name: 'email', label: m.email, type: 'email', autocomplete: 'username', value: v.email ?? '', error: v.error })}
${v.captcha ? captchaBlock(m, v.captcha) : ''}
${submit(v.submitLabel ?? m.sendLink)}`);
}

export async function forgotPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  const formPage = (request: FastifyRequest, reply: FastifyReply, tenant: Tenant | undefined, v: { email?: string; fieldError?: string; error?: string; captcha?: CaptchaAsk }, status = 200) => {
    const m = messages(request);
    return sendPage(request, reply, page({
      m, title: tenant ? m.forgotTitleTenant(tenant.name) : m.forgotTitle, ...brandFor(tenant),
      body: html`${v.error ? alert('error', v.error) : ''}
<p class="lead">${m.forgotIntro}</p>
${forgotForm(m, { slug: tenant?.slug, email: v.email, error: v.fieldError, captcha: v.captcha })}
${links([{ href: '/reset-password/code', label: m.haveCode }, { href: loginPath(tenant?.slug), label: m.backToSignIn }])}`,
    }), status);
  };

  const sentCookie = (tenant: Tenant | undefined) => ({
    path: forgotPath(tenant?.slug), httpOnly: true, sameSite: 'strict' as const, secure: ctx.config.publicUrl.startsWith('https:'),
  });

  /** The address the last POST of this form sent to, or undefined (no cookie, expired, tampered). */
  const sentTo = (request: FastifyRequest): string | undefined => {
    const sealed = request.cookies[SENT_COOKIE];
    if (!sealed) return undefined;
    try {
      return parseEmail(ctx.secrets.open(sealed)) ?? undefined;
    } catch {
      return undefined;
    }
  };

  const sentPage = (request: FastifyRequest, reply: FastifyReply, tenant: Tenant | undefined) => {
    const m = messages(request);
    const rule = ctx.limits.rule('forgotPerAccount'); // overrides and RATE_LIMIT_SCALE applied
    const limit = rule.points === null ? null : { count: rule.points, per: durationText(m, rule.windowMs) };
    const ttl = durationText(m, tenant ? resetTtlMs(ctx.config, tenant) : ctx.config.resetTokenTtlMs);
    const email = sentTo(request);
    return sendPage(request, reply, page({
      m, title: m.sentTitle, ...brandFor(tenant),
      body: html`${alert('success', email ? m.sentTextTo(email, ttl) : m.sentText(ttl))}
<h2>${m.sentNothingHeading}</h2>
<ul class="tips">
<li>${m.sentTipSpam}</li>
<li>${m.sentTipAddress}</li>
<li>${m.sentTipWait}</li>
<li>${m.sentTipAgain(limit)}</li>
</ul>
<a class="btn btn-primary" href="${loginPath(tenant?.slug)}">${m.backToSignIn}</a>
${links([{ href: forgotPath(tenant?.slug), label: m.requestAgain }, { href: '/reset-password/code', label: m.haveCode }])}`,
    }));
  };

  const post = async (request: FastifyRequest, reply: FastifyReply, tenant: Tenant | undefined) => {
    const m = messages(request);
    const typed = formField(request, 'email');
    const email = parseEmail(typed);
    if (!email) return formPage(request, reply, tenant, { email: typed.slice(0, 254), fieldError: m.invalidEmail }, 400);
    try {
      await requestReset(ctx, { email, tenant: tenant?.slug, ip: request.ip, captcha: formField(request, 'captcha') || undefined, device: deviceCookieOf(request) });
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => formPage(request, reply, tenant, { email, error }, status),
        captcha: (captcha) => formPage(request, reply, tenant, { email, captcha }, 428), // the captcha block carries the message
      });
    }
    reply.setCookie(SENT_COOKIE, ctx.secrets.seal(email), { ...sentCookie(tenant), maxAge: SENT_COOKIE_SECONDS });
    return redirect(reply, `${forgotPath(tenant?.slug)}/sent`);
  };

  type WithSlug = FastifyRequest<{ Params: { slug: string } }>;
  const withTenant = (handler: (request: FastifyRequest, reply: FastifyReply, tenant: Tenant) => unknown) =>
    async (request: WithSlug, reply: FastifyReply) => {
      const tenant = await tenantBySlug(ctx.db, request.params.slug);
      return tenant ? handler(request, reply, tenant) : notFoundPage(request, reply);
    };

  app.get('/forgot-password', (request, reply) => formPage(request, reply, undefined, {}));
  app.post('/forgot-password', (request, reply) => post(request, reply, undefined));
  app.get('/forgot-password/sent', (request, reply) => sentPage(request, reply, undefined));
  app.get('/t/:slug/forgot-password', withTenant((request, reply, tenant) => formPage(request, reply, tenant, {})));
  app.post('/t/:slug/forgot-password', withTenant(post));
  app.get('/t/:slug/forgot-password/sent', withTenant(sentPage));
}
