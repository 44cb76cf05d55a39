// Signed-in pages: /account (who am I, links to the settings pages, sign out) and
// /settings/password (current, new, repeat). /settings/security and /settings/sessions have files of their own.
// A missing or revoked session sends the reader to sign in, and back here afterwards.
import { isStaff } from '../../features/admin/permissions.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { changePassword } from '../../features/password-change/change.ts';
import { policyOf } from '../../features/password-policy/enforce.ts';
import { historyDepth } from '../../features/password-policy/history.ts';
import { clearSessionCookie, csrfTokenFor, requireSession } from '../../features/sessions/plugin.ts';
import type { SessionInfo } from '../../features/sessions/sessions.ts';
import { signOut } from '../../features/sign-in/sign-in.ts';
import { tenantBySlug } from '../../features/tenants/store.ts';
import type { Ctx } from '../../context.ts';
import { brandFor, brandOfSlug } from '../brand.ts';
import { html } from '../html.ts';
import { alert, field, form, linkButton, links, page, submit } from '../layout.ts';
import { newPasswordFields, passwordFormAttrs, policyMessage } from '../password-form.ts';
import { failedRules, pageError } from '../page-errors.ts';
import { formField, messages, queryField, redirect, sendPage } from '../respond.ts';

const toLogin = (reply: FastifyReply, next: string) => redirect(reply, `/login?next=${encodeURIComponent(next)}`);

interface ChangeState { error?: string; currentError?: string; failed?: string[]; repeatError?: string; }

export async function settingsPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  const csrfField = (s: SessionInfo) => html`<input type="hidden" name="_csrf" value="${csrfTokenFor(ctx, s)}">`;

  app.get('/account', async (request, reply) => {
    const m = messages(request);
    const s = await request.session();
    if (!s) return toLogin(reply, '/account');
    return sendPage(request, reply, page({
      m, title: m.accountTitle, ...(await brandOfSlug(ctx, s.tenant.slug)),
      body: html`<p>${m.signedInAs(s.user.email, s.tenant.name)}</p>
${isStaff(s.user.role) ? html`<p>${m.floor.consoleLinkText}</p>${linkButton('/admin', m.floor.consoleLink)}` : ''}
${linkButton('/settings/password', m.changePasswordLink, isStaff(s.user.role) ? 'secondary' : undefined)}
${linkButton('/settings/security', m.security.link, 'secondary')}
${linkButton('/settings/sessions', m.sessions.link, 'secondary')}
${form('/logout', html`${csrfField(s)}<button class="btn btn-secondary" type="submit">${m.signOut}</button>`)}`,
    }));
  });

  app.post('/logout', async (request, reply) => {
    const s = await request.session();
    if (s) {
      await requireSession(ctx, request); // the CSRF token must match
      await signOut(ctx, s, request.ip);
    }
    clearSessionCookie(ctx, reply);
    // Back to the sign-in page of the tenant the session was in, not the global one.
    return redirect(reply, `${s ? `/t/${encodeURIComponent(s.tenant.slug)}` : ''}/login?signed-out=1`);
  });

  const changePage = async (request: FastifyRequest, reply: FastifyReply, s: SessionInfo, state: ChangeState, status = 200) => {
    const m = messages(request);
    const tenant = await tenantBySlug(ctx.db, s.tenant.slug);
    const policy = policyOf(tenant ?? { passwordPolicy: {} });
    const history = historyDepth(tenant ?? { passwordPolicy: {} });
    // A policy refusal's message names what failed: its own for a reused password (history rule).
    const policyError = state.failed ? policyMessage(m, state.failed, history) : undefined;
    const error = state.error ?? policyError;
    return sendPage(request, reply, page({
      m, title: m.settingsTitle, ...brandFor(tenant),
      body: html`${error ? alert('error', error, 'change-error') : ''}
<p class="lead">${m.signedInAs(s.user.email, s.tenant.name)}</p>
${form('/settings/password', html`
${csrfField(s)}
<input type="text" name="username" autocomplete="username" value="${s.user.email}" hidden readonly>
${field({ id: 'current-password', name: 'currentPassword', label: m.currentPassword, type: 'password', autocomplete: 'current-password', error: state.currentError })}
${newPasswordFields({ m, policy, history, failed: state.failed, error: policyError, repeatError: state.repeatError })}
${submit(m.savePassword, html` data-confirm`)}`, passwordFormAttrs(policy, s.user.email))}
${links([{ href: '/account', label: m.backToAccount }])}`,
    }), status);
  };

  app.get('/settings/password', async (request, reply) => {
    const s = await request.session();
    if (!s) return toLogin(reply, '/settings/password');
    if (queryField(request, 'status') === 'updated') return changedPage(request, reply, s);
    return changePage(request, reply, s, {});
  });

  // After a change: the confirmation, with no form. The filled-in form staying under the notice
  // read as "nothing happened" and invited a second change.
  const changedPage = async (request: FastifyRequest, reply: FastifyReply, s: SessionInfo) => {
    const m = messages(request);
    return sendPage(request, reply, page({
      m, title: m.changedTitle, ...(await brandOfSlug(ctx, s.tenant.slug)),
      body: html`${alert('success', m.updated)}
<p class="lead">${m.signedInAs(s.user.email, s.tenant.name)}</p>
${linkButton('/account', m.backToAccount)}`,
    }));
  };

  app.post('/settings/password', async (request, reply) => {
    const m = messages(request);
    const s = await request.session();
    if (!s) return toLogin(reply, '/settings/password');
    try {
      await requireSession(ctx, request);
    } catch {
      return changePage(request, reply, s, { error: m.formExpired }, 403);
    }
    const currentPassword = formField(request, 'currentPassword');
    const newPassword = formField(request, 'password');
    const repeat = formField(request, 'repeat');
    if (currentPassword === '') return changePage(request, reply, s, { error: m.wrongCurrent, currentError: m.wrongCurrentField }, 403);
    if (newPassword === '') return changePage(request, reply, s, { failed: ['min_length'] }, 422);
    if (repeat !== newPassword) return changePage(request, reply, s, { error: m.passwordsDontMatch, repeatError: repeat === '' ? m.repeatMissing : m.passwordsDontMatch }, 422);
    try {
      await changePassword(ctx, s, { currentPassword, newPassword, ip: request.ip });
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => changePage(request, reply, s, { error }, status),
        codes: {
          wrong_password: () => changePage(request, reply, s, { error: m.wrongCurrent, currentError: m.wrongCurrentField }, 403),
          password_policy: (e) => changePage(request, reply, s, { failed: failedRules(e) }, 422),
        },
      });
    }
    return redirect(reply, '/settings/password?status=updated');
  });
}
