// /login and /t/{slug}/login: email + password, one message for every wrong combination, and the
// tenant chooser when the password is right in several tenants (signIn answers choose-tenant). The
// chooser carries the single-use ticket and the email, never the password: the choice finishes with
// the ticket alone (choose-tenant.ts). With JavaScript, client/sign-in.ts sends the form with fetch so
// that a captcha request (428) does not lose the typed password (see there).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { deviceCookieOf, setDeviceCookie } from '../../features/abuse/devices.ts';
import { clearSessionCookie, setSessionCookie } from '../../features/sessions/plugin.ts';
import { SESSION_COOKIE } from '../../features/sessions/sessions.ts';
import { signInWithTicket } from '../../features/sign-in/choose-tenant.ts';
import { holdSecondStep, newBinding } from '../../features/sign-in/held-step.ts';
import { signIn } from '../../features/sign-in/sign-in.ts';
import { ssoConnection, ssoStartPath } from '../../features/sso/connection.ts';
import { minutesText, type Messages } from '../i18n/index.ts';
import { tenantBySlug, type Tenant } from '../../features/tenants/store.ts';
import { captchaBlock, type CaptchaAsk } from '../captcha.ts';
import { brandFor } from '../brand.ts';
import { html } from '../html.ts';
import { alert, field, form, page, submit } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { formField, messages, queryField, redirect, safeNext, sendPage } from '../respond.ts';
import { appNameFor } from '../../features/oidc/interaction.ts';
import { notFoundPage } from './not-found.ts';
import { secondStepNotice } from './second-step.ts';

interface LoginView {
  tenant?: Tenant; email?: string; error?: string; notice?: string; next: string; captcha?: CaptchaAsk;
  /** The app (OpenID client) the person signs in for, named by the provider's interaction, never by the URL. */
  app?: string;
}

const loginPath = (tenant?: Tenant) => (tenant ? `/t/${tenant.slug}/login` : '/login');
export const forgotPath = (slug?: string) => (slug ? `/t/${slug}/forgot-password` : '/forgot-password');

/** What the SSO routes' `?sso_error=<reason>` means, in the reader's words. */
function ssoErrorText(m: Messages, reason: string, tenant: Tenant): string | undefined {
  switch (reason) {
    case 'unavailable': return m.ssoErrorUnavailable;
    case 'cancelled': return m.ssoErrorCancelled;
    case 'invalid_state': return m.ssoErrorInvalidState;
    case 'unverified_email': return m.ssoErrorUnverifiedEmail;
    case 'wrong_domain': return m.ssoErrorWrongDomain(tenant.name);
    case 'not_linked': return m.ssoErrorNotLinked(tenant.name);
    default: return undefined;
  }
}

function loginPage(request: FastifyRequest, v: LoginView) {
  const m = messages(request);
  const title = v.tenant ? m.loginTitleTenant(v.tenant.name) : m.loginTitle;
  const action = loginPath(v.tenant) + (v.next !== '/account' ? `?next=${encodeURIComponent(v.next)}` : '');
  // A tenant with a single sign-on connection gets the "Sign in with Google" button (CONTRACT §6 names
  // it so whatever the issuer); without password sign-in, only that.
  const sso = v.tenant ? ssoConnection(v.tenant) : null;
  const passwordOn = !v.tenant || v.tenant.loginMethods.includes('password') || !sso;
  const ssoButton = sso && v.tenant
    ? html`<a class="btn ${passwordOn ? 'btn-secondary' : 'btn-primary'}" href="${ssoStartPath(v.tenant)}?returnTo=${encodeURIComponent(v.next)}">${m.ssoGoogle}</a>
${passwordOn ? html`<p class="divider"><span>${m.or}</span></p>` : ''}`
    : '';
  return page({
    m, title, ...brandFor(v.tenant),
    body: html`
${v.app ? html`<p class="lead">${m.continueToApp(v.app)}</p>` : ''}
${v.error ? alert('error', v.error, 'login-error') : ''}
${v.notice ? alert('info', v.notice) : ''}
${ssoButton}
${passwordOn ? form(action, html`
<input type="hidden" name="next" value="${v.next}">
${field({ id: 'email', name: 'email', label: m.email, type: 'email', autocomplete: 'username', value: v.email ?? '', autofocus: !v.email, describedBy: v.error ? ['login-error'] : [] })}
${field({
  id: 'password', name: 'password', label: m.password, type: 'password', autocomplete: 'current-password', autofocus: !!v.email,
  describedBy: v.error ? ['login-error'] : [],
  after: html`<p class="field-after"><a href="${forgotPath(v.tenant?.slug)}">${m.forgotLink}</a></p>`,
})}
${v.captcha ? captchaBlock(m, v.captcha, { password: true }) : ''}
${submit(m.signIn)}`, html` data-sign-in`) : ''}`,
  });
}

function chooserPage(request: FastifyRequest, v: { email: string; ticket: string; next: string; tenants: { slug: string; name: string }[] }) {
  const m = messages(request);
  return page({
    m, title: m.chooseTenantTitle,
    body: html`<p>${m.chooseTenantIntro}</p>
${form('/login', html`
<input type="hidden" name="email" value="${v.email}">
<input type="hidden" name="ticket" value="${v.ticket}">
<input type="hidden" name="next" value="${v.next}">
<ul class="tenant-buttons">
${v.tenants.map((t) => html`<li><button class="btn btn-secondary" type="submit" name="tenant" value="${t.slug}">${m.continueTo(t.name)}</button></li>`)}
</ul>`)}
<ul class="links"><li><a href="/login">${m.backToSignIn}</a></li></ul>`,
  });
}

export async function loginPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  const show = async (request: FastifyRequest, reply: FastifyReply, tenant?: Tenant) => {
    const m = messages(request);
    const next = safeNext(queryField(request, 'next'));
    const session = await request.session();
    // `again`: an app asked for a fresh sign-in (prompt=login, max_age), so the form shows anyway.
    const again = queryField(request, 'again') === '1';
    if (session && !again && (!tenant || session.tenant.slug === tenant.slug)) return redirect(reply, next);
    // A session cookie that no longer works: it was revoked (password reset elsewhere) or expired.
    const ended = !session && request.cookies[SESSION_COOKIE] !== undefined;
    if (ended) clearSessionCookie(ctx, reply);
    const notice = ended ? m.sessionEnded : queryField(request, 'signed-out') ? m.signedOut : queryField(request, 'unlocked') ? m.unlockDone
      : secondStepNotice(m, queryField(request, 'second-step'));
    const ssoError = tenant ? ssoErrorText(m, queryField(request, 'sso_error'), tenant) : undefined;
    return sendPage(request, reply, loginPage(request, { tenant, next, notice, error: ssoError, app: await appNameFor(ctx.db, next) }));
  };

  const post = async (request: FastifyRequest, reply: FastifyReply, tenant?: Tenant) => {
    const m = messages(request);
    const email = formField(request, 'email').trim();
    const password = formField(request, 'password');
    const ticket = formField(request, 'ticket');
    const chosen = formField(request, 'tenant');
    const next = safeNext(formField(request, 'next') || queryField(request, 'next'));
    const failed = async (error: string, status: number, captcha?: CaptchaAsk) =>
      sendPage(request, reply, loginPage(request, { tenant, email, error, next, captcha, app: await appNameFor(ctx.db, next) }), status);
    // The chooser sends the ticket and the chosen tenant, no password.
    const choice = ticket !== '' && (tenant?.slug ?? chosen) !== '' ? { ticket, tenant: tenant?.slug ?? chosen } : null;
    if (email === '' || email.length > 254 || password.length > 1024 || ticket.length > 100) return failed(m.loginFailed, 401);
    if (password === '' && !choice) return failed(m.loginFailed, 401);
    const binding = newBinding();
    try {
      const result = choice
        ? await signInWithTicket(ctx, { email, ...choice, ip: request.ip, userAgent: request.headers['user-agent'], device: deviceCookieOf(request), binding })
        : await signIn(ctx, {
          email, password, tenant: tenant?.slug ?? (chosen || undefined),
          ip: request.ip, userAgent: request.headers['user-agent'], captcha: formField(request, 'captcha') || undefined,
          device: deviceCookieOf(request), binding,
        });
      if (result.kind === 'choose-tenant') {
        return sendPage(request, reply, chooserPage(request, { email, ticket: result.ticket, next, tenants: result.tenants }));
      }
      if (result.kind !== 'signed-in') return redirect(reply, holdSecondStep(ctx, reply, result, binding, next));
      setSessionCookie(ctx, reply, result.token, result.expiresAt);
      setDeviceCookie(ctx, reply, result.device);
      return redirect(reply, next);
    } catch (err) {
      return pageError(m, reply, err, {
        again: failed,
        limited: (e) => (e.extra.reason === 'sign_in_paused' ? m.signInPaused(minutesText(m, Number(e.extra.retryAfter))) : undefined),
        // The captcha block is the one message (asked → working → done, or failed): no alert beside it.
        captcha: (captcha) => sendPage(request, reply, loginPage(request, { tenant, email, next, captcha }), 428),
        codes: {
          invalid_ticket: () => failed(m.ticketExpired, 401),
          // Only the right password learns these (signIn answers 401 to a wrong one, as for any account).
          account_locked: () => failed(m.accountLocked, 403),
          password_expired: () => failed(m.passwordExpired, 403),
        },
        status: { 401: () => failed(m.loginFailed, 401) },
      });
    }
  };

  const tenantOr404 = async (request: FastifyRequest<{ Params: { slug: string } }>, reply: FastifyReply) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    if (!tenant) notFoundPage(request, reply);
    return tenant;
  };

  app.get('/login', (request, reply) => show(request, reply));
  app.post('/login', (request, reply) => post(request, reply));
  app.get<{ Params: { slug: string } }>('/t/:slug/login', async (request, reply) => {
    const tenant = await tenantOr404(request, reply);
    return tenant ? show(request, reply, tenant) : reply;
  });
  app.post<{ Params: { slug: string } }>('/t/:slug/login', async (request, reply) => {
    const tenant = await tenantOr404(request, reply);
    return tenant ? post(request, reply, tenant) : reply;
  });
}
