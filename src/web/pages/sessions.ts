// /settings/sessions: the devices signed in to the account (CONTRACT §8). The list (device, IP
// address, when it signed in, when it was last used, this device marked), "Sign out" for each
// other device, and "Sign out everywhere else". Plain forms with the session's CSRF token, answered
// with a redirect and a notice (POST-redirect-GET); no JavaScript needed. The pages call the same
// feature functions as /api/v1/sessions (sessions/device-list.ts).
//
// The pages are a Fastify context of their own: one preHandler finds the session (or sends the
// reader to sign in) and checks the CSRF token of a post.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { endDevice, myDevices, signOutOtherDevices } from '../../features/sessions/device-list.ts';
import { clearSessionCookie, csrfTokenFor, requireSession } from '../../features/sessions/plugin.ts';
import type { DeviceSession, SessionInfo } from '../../features/sessions/sessions.ts';
import { tenantById } from '../../features/tenants/store.ts';
import { brandFor } from '../brand.ts';
import { html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, form, links, page, time } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { isAppError, messages, queryField, redirect, sendPage } from '../respond.ts';

const HOME = '/settings/sessions';

type Done = keyof Messages['sessions']['done'];

/** What the page shows besides the list: a notice, or a refusal. */
interface State { done?: Done; error?: string; }

export async function sessionsPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  await app.register(async (pages) => {
    pages.decorateRequest('signedInSession', null);
    pages.addHook('preHandler', signedInOnly(ctx));
    routes(pages, ctx);
  });
}

/**
 * No session → sign in and come back here. A post needs the session's CSRF token; a stale one
 * shows the list again with "this form expired".
 */
function signedInOnly(ctx: Ctx) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const s = await request.session();
    if (!s) return redirect(reply, `/login?next=${encodeURIComponent(HOME)}`);
    request.setDecorator<SessionInfo>('signedInSession', s);
    if (request.method !== 'POST') return;
    try {
      await requireSession(ctx, request);
    } catch (err) {
      if (!isAppError(err, 'csrf_failed')) throw err;
      return overview(ctx, request, reply, { error: messages(request).formExpired }, 403);
    }
  };
}

const signedIn = (request: FastifyRequest) => request.getDecorator<SessionInfo>('signedInSession');

function row(m: Messages, d: DeviceSession, csrf: string, now: Date): Part {
  const t = m.sessions;
  const signOut = d.current ? '' : form(`${HOME}/${d.id}/sign-out`, html`<input type="hidden" name="_csrf" value="${csrf}">
<button class="btn btn-secondary btn-inline" type="submit" aria-label="${t.signOutNamed(d.device)}">${t.signOut}</button>`,
  html` class="inline-form" data-confirm="${t.signOutConfirm(d.device)}"`);
  return html`<li class="session"${d.current ? html` aria-current="true"` : ''} data-session-id="${d.id}">
<span><strong>${d.device}</strong>${d.current ? html` <span class="badge">${t.thisDevice}</span>` : ''}${d.app ? html` <span class="muted">${t.app(d.app.name)}</span>` : ''}</span>
<span class="muted">${t.ip} ${d.ip ?? '—'} · ${t.started} ${time(m, d.createdAt, now)} · ${t.lastUsed} ${time(m, d.lastSeenAt, now)}</span>
${signOut}
</li>`;
}

async function overview(ctx: Ctx, request: FastifyRequest, reply: FastifyReply, state: State, status = 200): Promise<FastifyReply> {
  const m = messages(request);
  const t = m.sessions;
  const s = signedIn(request);
  const csrf = csrfTokenFor(ctx, s);
  const now = ctx.clock.now();
  const devices = await myDevices(ctx, s);
  const others = devices.some((d) => !d.current);
  const tenant = await tenantById(ctx.db, s.tenant.id);
  const body = html`${state.done ? alert('success', t.done[state.done]) : ''}
${state.error ? alert('error', state.error, 'sessions-error') : ''}
<p class="lead">${m.signedInAs(s.user.email, s.tenant.name)}</p>
<p>${t.intro}</p>
<ul class="plain-list sessions" id="sessions">${devices.map((d) => row(m, d, csrf, now))}</ul>
<section aria-labelledby="others-heading">
<h2 id="others-heading">${t.othersHeading}</h2>
${others
    ? form(`${HOME}/sign-out-others`, html`<input type="hidden" name="_csrf" value="${csrf}">
<p class="hint">${t.othersText}</p>
<button class="btn btn-danger" type="submit">${t.others}</button>`, html` data-confirm="${t.othersConfirm}"`)
    : html`<p>${t.noOthers}</p>`}
</section>
${links([{ href: '/account', label: m.backToAccount }])}`;
  return sendPage(request, reply, page({ m, title: t.title, body, ...brandFor(tenant) }), status);
}

function routes(app: FastifyInstance, ctx: Ctx) {
  app.get(HOME, async (request, reply) => {
    const done = queryField(request, 'done');
    return overview(ctx, request, reply, Object.hasOwn(messages(request).sessions.done, done) ? { done: done as Done } : {});
  });

  app.post<{ Params: { id: string } }>(`${HOME}/:id/sign-out`, async (request, reply) => {
    const m = messages(request);
    const s = signedIn(request);
    try {
      const { current } = await endDevice(ctx, s, request.params.id, request.ip);
      if (current) {
        // This device, by a hand-made post (the page offers no button for it): signed out.
        clearSessionCookie(ctx, reply);
        return redirect(reply, `/t/${encodeURIComponent(s.tenant.slug)}/login?signed-out=1`);
      }
      return redirect(reply, `${HOME}?done=ended`);
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => overview(ctx, request, reply, { error }, status),
        codes: { not_found: () => overview(ctx, request, reply, { error: m.sessions.gone }, 404) },
      });
    }
  });

  app.post(`${HOME}/sign-out-others`, async (request, reply) => {
    await signOutOtherDevices(ctx, signedIn(request), request.ip);
    return redirect(reply, `${HOME}?done=others`);
  });
}
