// /admin: the tenant admin console. A session of an admin or a supervisor, inside its own tenant only
// (another tenant's ids are 404 pages); each route names its permission (permissions.ts), and a
// member, or a supervisor on an admin's route, sees a 403 page. Every action is a plain form post with the
// session's CSRF token, answered with a redirect (POST-redirect-GET) and a `done=` notice; a refused
// action shows the page again with the reason. The routes call the same feature functions as the
// JSON API under /api/v1/admin, so both doors share every rule, limit and audit line.
//
// The console is a Fastify context of its own: one hook (adminOnly) admits the admin or supervisor
// before any of its routes runs and leaves them as a request decorator; the handlers read it
// (checkedAdmin) and never check again.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUuid } from '../../platform/http.ts';
import {
  createUser, detailedViews, emailsById, findUserByEmail, getUser, listUsers, matchingIds, signOutEverywhere, updateUser, type User,
} from '../../features/accounts/accounts.ts';
import { parseEmail } from '../../features/accounts/email.ts';
import { adminReset, sendWelcome } from '../../features/admin/admin-reset.ts';
import { BULK_ACTIONS, BULK_MAX, runBulk, type BulkAction } from '../../features/admin/bulk.ts';
import { eraseUser } from '../../features/accounts/erase.ts';
import { resetFactors } from '../../features/mfa/factors.ts';
import { ACTOR_TYPES, auditTime, listAudit, type Actor } from '../../features/audit/audit.ts';
import { withSentences } from '../../features/audit/sentences.ts';
import { csrfTokenFor, requireSession } from '../../features/sessions/plugin.ts';
import { admitStaff, can, isStaff, needs, SUPERVISORS_ACT_ON_MEMBERS, type Permission } from '../../features/admin/permissions.ts';
import { ROLES } from '../../features/accounts/store.ts';
import type { SessionInfo } from '../../features/sessions/sessions.ts';
import { linkedIdentities, unlinkIdentity } from '../../features/sso/identities.ts';
import { adminResetTtlMs } from '../../features/tenants/settings.ts';
import { allowsPassword, tenantById, type Tenant } from '../../features/tenants/store.ts';
import { parseDuration } from '../../config.ts';
import { invalidRequest } from '../../errors.ts';
import { deliveriesOf } from '../../platform/outbox/outbox.ts';
import type { Ctx } from '../../context.ts';
import { brandFor } from '../brand.ts';
import { html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, page } from '../layout.ts';
import { pageError, type Answer, type PageErrorCases } from '../page-errors.ts';
import { formField, formList, isAppError, messages, queryField, redirect, sendPage } from '../respond.ts';
import {
  adminNav, createBody, LIFETIMES, linkBody, resetBlocked, resetDialog, resetForm, userBody,
  type Lifetime, type UserPageInput,
} from './admin-views.ts';
import { auditBody, type AuditFilters, type AuditPage } from './admin-audit.ts';
import { notFoundPage } from './not-found.ts';
import { bulkResultBody, filterOptions, listHref, readFilters, usersBody } from './admin-users.ts';
import { webhookBody, webhooksBody, type AddForm } from './admin-webhooks.ts';
import { csvLinks, importRoutes } from './admin-import.ts';
import { brandingRoutes } from './admin-branding.ts';
import { scimTokenPages } from './admin-scim.ts';
import { createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, updateEndpoint, type Scope } from '../../features/webhooks/endpoints.ts';
import { listWebhookDeliveries, redeliver, sendTestEvent } from '../../features/webhooks/delivery.ts';
import { WEBHOOK_EVENTS, type WebhookEventType } from '../../features/webhooks/events.ts';

/** The signed-in admin of a console request, as adminOnly found it. */
interface Admin { s: SessionInfo; tenant: Tenant; actor: Actor; csrf: string; }

/** The made link travels from the POST to the page that shows it in this cookie, sealed, read once. */
const LINK_COOKIE = 'keyturn_admin_link';
const LINK_COOKIE_PATH = '/admin/users/';

const DONE = ['created', 'welcome-sent', 'saved', 'erased', 'disabled', 'enabled', 'unlocked', 'signed-out', 'reset-sent', 'unlinked', 'mfa-reset'] as const;
type Done = (typeof DONE)[number];

function doneText(m: Messages, done: string): string | null {
  return (DONE as readonly string[]).includes(done) ? m.admin.done[done as Done] : null;
}

export async function adminPages(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  await app.register(async (consoleApp) => {
    consoleApp.decorateRequest('admin', null);
    // Admitted on the request line, before any body is read; the CSRF token (in the body) after.
    consoleApp.addHook('onRequest', adminOnly(ctx));
    consoleApp.addHook('preHandler', async (request) => { if (request.method === 'POST') await requireSession(ctx, request); });
    usersRoutes(consoleApp, ctx);
    userRoutes(consoleApp, ctx);
    resetRoutes(consoleApp, ctx);
    auditRoutes(consoleApp, ctx);
    webhookRoutes(consoleApp, ctx);
    importRoutes(consoleApp, ctx, { staff: checkedAdmin, shell });
    brandingRoutes(consoleApp, ctx, { admin: checkedAdmin, shell });
    scimTokenPages(consoleApp, ctx, { admin: checkedAdmin, shell });
  });
}

// ── the door ─────────────────────────────────────────────────────────────────────────────────────

/** Route config of a POST: the page its form is on, where the browser comes back after signing in. */
interface FormAt { formAt: (request: FastifyRequest) => string; }
const formAt = (at: FormAt['formAt']) => ({ config: { formAt: at } });
const READ = { config: { permission: 'users.read' as const } };
const WEBHOOKS = { config: { permission: 'webhooks.manage' as const } };
const userPagePath = (request: FastifyRequest) => `/admin/users/${(request.params as { id: string }).id}`;

/**
 * Before every console route: no session → sign in (and come back); a member, or a route whose
 * permission the role lacks, or a supervisor's change to a non-member → 403 page (admitStaff, the
 * same check as the JSON API's); a post must carry the session's CSRF token (a stale one is a 403
 * page); the session's tenant gone → 404 page. Otherwise the request carries the staff member
 * (checkedAdmin).
 */
function adminOnly(ctx: Pick<Ctx, 'db' | 'secrets'>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const s = await request.session();
    if (!s) {
      const back = request.method === 'GET' ? request.url : (request.routeOptions.config as Partial<FormAt>).formAt?.(request) ?? '/admin';
      return redirect(reply, `/login?next=${encodeURIComponent(back)}`);
    }
    try {
      await admitStaff(ctx, request, s.user.role, s.tenant.id);
    } catch (err) {
      if (!isAppError(err, 'forbidden')) throw err;
      const m = messages(request);
      const text = !isStaff(s.user.role) ? m.admin.notAdminText : err.message === SUPERVISORS_ACT_ON_MEMBERS ? m.admin.membersOnly : m.admin.supervisorCannot;
      const back = isStaff(s.user.role) ? html`<a href="/admin">${m.admin.usersTitle}</a>` : html`<a href="/account">${m.backToAccount}</a>`;
      return sendPage(request, reply, page({ m, title: m.admin.notAdminTitle, body: html`<p>${text}</p><ul class="links"><li>${back}</li></ul>` }), 403);
    }
    const tenant = await tenantById(ctx.db, s.tenant.id);
    if (!tenant) return notFoundPage(request, reply);
    request.setDecorator<Admin>('admin', { s, tenant, actor: { type: 'admin', id: s.user.id, ip: request.ip }, csrf: csrfTokenFor(ctx, s) });
  };
}

/** The admin adminOnly let in (only inside the console's context). */
const checkedAdmin = (request: FastifyRequest) => request.getDecorator<Admin>('admin');

// ── shared pieces ────────────────────────────────────────────────────────────────────────────────

function shell(request: FastifyRequest, reply: FastifyReply, current: 'users' | 'audit' | 'webhooks' | 'branding' | 'scim', title: string, body: Part, status = 200) {
  const a = checkedAdmin(request);
  const m = messages(request);
  return sendPage(request, reply, page({ m, title, body, wide: true, ...brandFor(a.tenant), nav: adminNav(m, current, a.s.user.email, a.csrf, a.s.user.role) }), status);
}

/** A user of this tenant, or a 404 page (another tenant's ids, malformed ids). */
async function userOr404(ctx: Pick<Ctx, 'db'>, request: FastifyRequest, reply: FastifyReply, id: string): Promise<User | null> {
  try {
    return await getUser(ctx, checkedAdmin(request).tenant, id);
  } catch (err) {
    if (isAppError(err, 'not_found')) {
      notFoundPage(request, reply);
      return null;
    }
    throw err;
  }
}

/**
 * What a refused action says, in the reader's language where we know the case; `show` puts it on
 * the page (`field`: beside that field). Other codes, when a handler has more.
 */
function refusals(m: Messages, show: (text: string, status: number, field?: 'email' | 'reason') => Answer, more: PageErrorCases['codes'] = {}): PageErrorCases {
  return {
    again: show,
    codes: {
      ...more,
      email_taken: () => show(m.admin.emailTaken, 409, 'email'),
      invalid_request: (err) => {
        const field = typeof err.extra.field === 'string' ? err.extra.field : undefined;
        if (field === 'email') return show(m.invalidEmail, 400, field);
        if (field === 'reason') return show(m.admin.mfaReasonMissing, 400, field);
        if (field === 'disabled' || field === 'role') return show(m.admin.selfLockout, 400);
        const reason = { account_disabled: m.admin.resetDisabled, account_locked: m.admin.resetLocked, password_off: m.admin.resetPasswordOff }[String(err.extra.reason)];
        return show(reason ?? err.message, 400);
      },
    },
  };
}

// ── users: the list, a new user ──────────────────────────────────────────────────────────────────

function usersRoutes(app: FastifyInstance, ctx: Ctx) {
  app.get('/admin', READ, async (request, reply) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    const filters = readFilters((k) => queryField(request, k));
    const list = await listUsers(ctx, a.tenant, { ...filterOptions(filters), after: filters.after || undefined, limit: 50 });
    const done = doneText(m, queryField(request, 'done'));
    const role = a.s.user.role;
    return shell(request, reply, 'users', m.admin.usersTitle, usersBody(m, {
      users: list.users, next: list.next, total: list.total, filters, now: ctx.clock.now(), passwordOn: allowsPassword(a.tenant),
      role, csrf: a.csrf, notice: done ? alert('success', done) : undefined,
      resetDialog: resetDialog(m, { csrf: a.csrf, action: '/admin', email: '', defaultTtlMs: adminResetTtlMs(ctx.config, a.tenant) }),
      csvLinks: csvLinks(m, { canImport: can(role, 'users.import'), canExport: can(role, 'users.export'), filters }),
    }));
  });

  // Ticked users, or every user matching the list's filter (carried as hidden fields); each gets
  // the single action (bulk.ts), and the page lists who it was not done for, and why.
  app.post('/admin/users/bulk', needs('users.bulk', formAt(() => '/admin')), async (request, reply) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    const filters = readFilters((k) => formField(request, k));
    const back = listHref({ ...filters, after: '' });
    const action = formField(request, 'action');
    const again = (text: string, status = 400) => shell(request, reply, 'users', m.floor.bulkTitle, html`${alert('error', text, 'bulk-error')}<ul class="links links-start"><li><a href="${back}">${m.floor.bulkBack}</a></li></ul>`, status);
    if (!(BULK_ACTIONS as readonly string[]).includes(action)) return again(m.floor.bulkNoAction);
    const ids = formField(request, 'scope') === 'all'
      ? await matchingIds(ctx, a.tenant, filterOptions(filters), BULK_MAX + 1)
      : formList(request, 'ids');
    if (ids.length === 0) return again(m.floor.bulkNoneChosen);
    if (ids.length > BULK_MAX) return again(m.floor.bulkTooMany(BULK_MAX));
    try {
      const result = await runBulk(ctx, a.tenant, { ids, action: action as BulkAction, reason: formField(request, 'reason').slice(0, 500) }, a.actor, a.s.user.role);
      const emails = await emailsById(ctx, a.tenant, result.failed.map((f) => f.id));
      return shell(request, reply, 'users', m.floor.bulkTitle, bulkResultBody(m, {
        action: action as BulkAction, done: result.done.length,
        failed: result.failed.map((f) => ({ email: emails.get(f.id) ?? f.id, message: f.message })),
      }, back));
    } catch (err) {
      return pageError(m, reply, err, refusals(m, (text, status) => again(text, status)));
    }
  });

  const createPage = (request: FastifyRequest, reply: FastifyReply, v: Partial<Parameters<typeof createBody>[1]>, status = 200) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    const passwordOn = allowsPassword(a.tenant);
    return shell(request, reply, 'users', m.admin.createTitle, createBody(m, {
      csrf: a.csrf, welcome: true, passwordOn, defaultTtlMs: adminResetTtlMs(ctx.config, a.tenant), ...v,
    }), status);
  };

  app.get('/admin/users/new', { config: { permission: 'users.create' } }, async (request, reply) => createPage(request, reply, {}));

  app.post('/admin/users', needs('users.create', formAt(() => '/admin/users/new')), async (request, reply) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    const typed = formField(request, 'email').trim();
    const name = formField(request, 'name').trim().slice(0, 200);
    const role = ROLES.find((r) => r === formField(request, 'role')) ?? 'member';
    const welcome = allowsPassword(a.tenant) && formField(request, 'sendWelcome') !== '';
    const again = (v: { error?: string; emailError?: string }, status: number) =>
      createPage(request, reply, { email: typed.slice(0, 254), name, role, welcome, ...v }, status);
    if (!parseEmail(typed)) return again({ emailError: m.invalidEmail }, 400);
    try {
      const user = await createUser(ctx, a.tenant, { email: typed, name, role }, a.actor,
        welcome ? async (tx, u) => { await sendWelcome(ctx, tx, a.tenant, u, a.actor); } : undefined);
      return redirect(reply, `/admin/users/${user.id}?done=${welcome ? 'welcome-sent' : 'created'}`);
    } catch (err) {
      return pageError(m, reply, err, refusals(m, (text, status, field) => again(field === 'email' ? { emailError: text } : { error: text }, status)));
    }
  });
}

// ── one user: the page and its actions ───────────────────────────────────────────────────────────

async function userPage(ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'sessions'>, request: FastifyRequest, reply: FastifyReply, user: User, extra: { error?: string; edit?: UserPageInput['edit']; mfaReset?: UserPageInput['mfaReset'] } = {}, status = 200) {
  const a = checkedAdmin(request);
  const m = messages(request);
  const [details] = await detailedViews(ctx, a.tenant, [user]);
  const done = doneText(m, queryField(request, 'done'));
  const notice = extra.error ? alert('error', extra.error, 'action-error') : done ? alert('success', done) : undefined;
  return shell(request, reply, 'users', user.name || user.email, userBody(m, {
    user: details!, identities: await linkedIdentities(ctx, a.tenant, user.id),
    deliveries: await deliveriesOf(ctx.db, { userId: user.id, tenantId: a.tenant.id }),
    sessions: await ctx.sessions.list(user.id, a.s.idHash),
    csrf: a.csrf, now: ctx.clock.now(), passwordOn: allowsPassword(a.tenant), defaultTtlMs: adminResetTtlMs(ctx.config, a.tenant),
    self: user.id === a.s.user.id, viewerRole: a.s.user.role, notice, edit: extra.edit, mfaReset: extra.mfaReset,
  }), status);
}

/** One action on one user: run it, then back to the user's page with a notice — or the page again with the reason. */
function userAction(app: FastifyInstance, ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'sessions'>, path: string, permission: Permission, run: (a: Admin, user: User, request: FastifyRequest, reply: FastifyReply) => Promise<Done | string>) {
  app.post<{ Params: { id: string; identityId?: string } }, FormAt>(`/admin/users/:id${path}`, needs(permission, formAt(userPagePath)), async (request, reply) => {
    const a = checkedAdmin(request);
    const user = await userOr404(ctx, request, reply, request.params.id);
    if (!user) return reply;
    try {
      const done = await run(a, user, request, reply);
      return redirect(reply, done.startsWith('/') ? done : `/admin/users/${user.id}?done=${done}`);
    } catch (err) {
      const m = messages(request);
      return pageError(m, reply, err, refusals(m, (text, status, field) => {
        const edit = path === '' ? { name: formField(request, 'name'), email: formField(request, 'email'), role: formField(request, 'role'), ...(field === 'email' ? { emailError: text } : {}) } : undefined;
        const mfaReset = path === '/mfa-reset' ? { reason: formField(request, 'reason'), ...(field === 'reason' ? { error: text } : {}) } : undefined;
        return userPage(ctx, request, reply, user, { error: text, edit, mfaReset }, status);
      }, { not_found: () => notFoundPage(request, reply) }));
    }
  });
}

function userRoutes(app: FastifyInstance, ctx: Ctx) {
  app.get<{ Params: { id: string } }>('/admin/users/:id', READ, async (request, reply) => {
    const user = await userOr404(ctx, request, reply, request.params.id);
    return user ? userPage(ctx, request, reply, user) : reply;
  });

  userAction(app, ctx, '', 'users.edit', async (a, user, request) => {
    const role = formField(request, 'role');
    await updateUser(ctx, a.tenant, user.id, {
      name: formField(request, 'name').trim().slice(0, 200),
      email: formField(request, 'email').trim(),
      ...(role === 'admin' || role === 'supervisor' || role === 'member' ? { role } : {}),
    }, a.actor);
    return 'saved';
  });
  userAction(app, ctx, '/disable', 'users.edit', async (a, user) => { await updateUser(ctx, a.tenant, user.id, { disabled: true }, a.actor); return 'disabled'; });
  userAction(app, ctx, '/enable', 'users.edit', async (a, user) => { await updateUser(ctx, a.tenant, user.id, { disabled: false }, a.actor); return 'enabled'; });
  userAction(app, ctx, '/unlock', 'users.unlock', async (a, user) => { await updateUser(ctx, a.tenant, user.id, { locked: false }, a.actor); return 'unlocked'; });
  userAction(app, ctx, '/sign-out', 'users.sign-out', async (a, user) => { await signOutEverywhere(ctx, a.tenant, user.id, a.actor); return 'signed-out'; });
  // A lost phone: the same reset as the API's, so a reason is required here too.
  userAction(app, ctx, '/mfa-reset', 'users.mfa-reset', async (a, user, request) => {
    const reason = formField(request, 'reason').trim().slice(0, 500);
    if (!reason) throw invalidRequest('reason: say why (it goes into the audit log).', { field: 'reason' });
    await resetFactors(ctx, { user, tenant: a.tenant }, reason, a.actor);
    return 'mfa-reset';
  });
  userAction(app, ctx, '/erase', 'users.erase', async (a, user) => {
    await eraseUser(ctx, a.tenant, user.id, a.actor);
    return '/admin?done=erased';
  });
  userAction(app, ctx, '/identities/:identityId/unlink', 'users.unlink', async (a, user, request) => {
    await unlinkIdentity(ctx, a.tenant, user.id, (request.params as { identityId: string }).identityId, a.actor);
    return 'unlinked';
  });
}

// ── reset: the confirmation, the action, the made link ───────────────────────────────────────────

function resetRoutes(app: FastifyInstance, ctx: Ctx) {
  const secure = ctx.config.publicUrl.startsWith('https:');

  /** Without JavaScript the confirmation is this page; with it, the same form in a <dialog>. */
  app.get<{ Params: { id: string } }>('/admin/users/:id/reset', { config: { permission: 'users.reset' } }, async (request, reply) => {
    const a = checkedAdmin(request);
    const user = await userOr404(ctx, request, reply, request.params.id);
    if (!user) return reply;
    const m = messages(request);
    const [details] = await detailedViews(ctx, a.tenant, [user]);
    const blocked = resetBlocked(m, details!, allowsPassword(a.tenant));
    const back = html`<a class="btn btn-secondary" href="/admin/users/${user.id}">${m.admin.cancel}</a>`;
    return shell(request, reply, 'users', `${m.admin.resetTitlePrefix} ${user.email}`, blocked
      ? html`${alert('info', blocked)}${back}`
      : resetForm(m, { csrf: a.csrf, action: `/admin/users/${user.id}/reset`, email: user.email, defaultTtlMs: adminResetTtlMs(ctx.config, a.tenant), cancel: back }));
  });

  userAction(app, ctx, '/reset', 'users.reset', async (a, user, request, reply) => {
    const delivery = formField(request, 'delivery') === 'link' ? 'link' : 'email';
    const expiresIn = formField(request, 'expiresIn');
    const ttlMs = (LIFETIMES as readonly string[]).includes(expiresIn) ? parseDuration(expiresIn as Lifetime)! : undefined;
    const reason = formField(request, 'reason').trim().slice(0, 500) || undefined;
    const issued = await adminReset(ctx, a.tenant, user.id, { delivery, ttlMs, reason }, a.actor);
    if (delivery === 'email') return 'reset-sent';
    const sealed = ctx.secrets.seal(JSON.stringify({ userId: user.id, url: issued.url, expiresAt: issued.expiresAt.toISOString() }));
    // HttpOnly, Strict, five minutes, only under /admin/users/: the link never sits in a URL or a log.
    reply.setCookie(LINK_COOKIE, sealed, { path: LINK_COOKIE_PATH, httpOnly: true, sameSite: 'strict', secure, maxAge: 300 });
    return `/admin/users/${user.id}/reset/link`;
  });

  app.get<{ Params: { id: string } }>('/admin/users/:id/reset/link', { config: { permission: 'users.reset' } }, async (request, reply) => {
    const user = await userOr404(ctx, request, reply, request.params.id);
    if (!user) return reply;
    const m = messages(request);
    let made: { userId: string; url: string; expiresAt: string } | null = null;
    try {
      const raw = request.cookies[LINK_COOKIE];
      made = raw ? JSON.parse(ctx.secrets.open(raw)) : null;
    } catch { made = null; }
    // Shown once: the cookie goes now, so the link is not on screen again after a reload.
    reply.clearCookie(LINK_COOKIE, { path: LINK_COOKIE_PATH, httpOnly: true, sameSite: 'strict', secure });
    if (!made || made.userId !== user.id) return userPage(ctx, request, reply, user, { error: m.admin.linkGone });
    return shell(request, reply, 'users', m.admin.linkTitle, linkBody(m, { email: user.email, url: made.url, expiresAt: new Date(made.expiresAt), now: ctx.clock.now(), userId: user.id }));
  });
}

// ── audit ────────────────────────────────────────────────────────────────────────────────────────


function auditRoutes(app: FastifyInstance, ctx: Pick<Ctx, 'clock' | 'db'>) {
  app.get('/admin/audit', { config: { permission: 'audit.read' } }, async (request, reply) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    const actor = queryField(request, 'actor');
    const day = (name: string) => queryField(request, name).trim().slice(0, 40);
    const filters: AuditFilters = {
      user: queryField(request, 'user').trim().slice(0, 254), userId: isUuid(queryField(request, 'userId')) ? queryField(request, 'userId') : '',
      type: queryField(request, 'type').slice(0, 64), actor: (ACTOR_TYPES as readonly string[]).includes(actor) ? actor : '',
      from: day('from'), to: day('to'), before: /^\d{1,18}$/.test(queryField(request, 'before')) ? queryField(request, 'before') : '',
    };
    const errors: AuditPage['errors'] = {};
    if (filters.user) {
      const found = parseEmail(filters.user) ? await findUserByEmail(ctx, a.tenant, filters.user) : undefined;
      if (found) filters.userId = found.id;
      else errors.user = m.admin.unknownUser;
    } else if (filters.userId) {
      // An erased person's id still finds their events (the audit keeps it); no address to show then.
      filters.user = (await getUser(ctx, a.tenant, filters.userId).catch(() => undefined))?.email ?? '';
    }
    const from = filters.from ? auditTime(filters.from, 'from') : undefined;
    const to = filters.to ? auditTime(filters.to, 'to') : undefined;
    if (from === null) errors.from = m.auditLog.badDate;
    if (to === null) errors.to = m.auditLog.badDate;
    const PAGE = 50;
    const events = Object.keys(errors).length > 0 ? [] : await listAudit(ctx.db, {
      tenantId: a.tenant.id, userId: filters.userId || undefined, type: filters.type || undefined,
      actorType: (filters.actor || undefined) as Actor['type'] | undefined, from: from ?? undefined, to: to ?? undefined,
      before: filters.before ? Number(filters.before) : undefined, limit: PAGE + 1,
    });
    const shown = await withSentences(ctx, a.tenant, events.slice(0, PAGE), m.auditLog.sentences);
    return shell(request, reply, 'audit', m.admin.auditTitle, auditBody(m, { events: shown, filters, errors, now: ctx.clock.now(), more: events.length > PAGE }));
  });
}

// ── webhooks ─────────────────────────────────────────────────────────────────────────────────────

function webhookRoutes(app: FastifyInstance, ctx: Ctx) {
  const scopeOf = (a: Admin): Scope => ({ operator: false, tenantId: a.tenant.id });
  const noticeOf = (request: FastifyRequest) => {
    const text = messages(request).webhooks.done[queryField(request, 'done')];
    return text ? alert('success', text) : undefined;
  };

  const listPage = async (request: FastifyRequest, reply: FastifyReply, extra: { secret?: string; add?: AddForm } = {}, status = 200) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    return shell(request, reply, 'webhooks', m.webhooks.title, webhooksBody(m, {
      endpoints: await listEndpoints(ctx, scopeOf(a)), csrf: a.csrf, notice: noticeOf(request), ...extra,
    }), status);
  };

  /** One endpoint of this tenant with its deliveries, or a 404 page (another tenant's ids, malformed ids). */
  const endpointPage = async (request: FastifyRequest, reply: FastifyReply, id: string, secret?: string) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    try {
      const endpoint = await getEndpoint(ctx, scopeOf(a), id);
      const deliveries = await listWebhookDeliveries(ctx, scopeOf(a), id, 50);
      return shell(request, reply, 'webhooks', m.webhooks.title, webhookBody(m, { endpoint, deliveries, csrf: a.csrf, now: ctx.clock.now(), notice: noticeOf(request), secret }));
    } catch (err) {
      if (isAppError(err, 'not_found')) return notFoundPage(request, reply);
      throw err;
    }
  };

  app.get('/admin/webhooks', WEBHOOKS, async (request, reply) => listPage(request, reply));

  // The answer to this form shows the secret, this once (it is not kept anywhere it could be shown again).
  app.post('/admin/webhooks', needs('webhooks.manage', formAt(() => '/admin/webhooks')), async (request, reply) => {
    const a = checkedAdmin(request);
    const m = messages(request);
    const all = formField(request, 'all') !== '';
    const events = formList(request, 'events').filter((e): e is WebhookEventType => (WEBHOOK_EVENTS as readonly string[]).includes(e));
    const add: AddForm = { url: formField(request, 'url').trim().slice(0, 2048), description: formField(request, 'description').trim().slice(0, 500), events, all };
    if (!all && events.length === 0) return listPage(request, reply, { add: { ...add, eventsError: m.webhooks.noEvents } }, 400);
    try {
      const created = await createEndpoint(ctx, scopeOf(a), { url: add.url, events: all ? ['*'] : events, description: add.description }, a.actor);
      return listPage(request, reply, { secret: created.secret }, 201);
    } catch (err) {
      return pageError(m, reply, err, {
        again: (text, status) => listPage(request, reply, { add: { ...add, urlError: text } }, status),
        codes: {
          destination_refused: (e) => listPage(request, reply, { add: { ...add, urlError: `${m.webhooks.invalidUrl}: ${e.message}` } }, 422),
          invalid_request: (e) => listPage(request, reply, { add: { ...add, urlError: e.message } }, 400),
        },
      });
    }
  });

  app.get<{ Params: { id: string } }>('/admin/webhooks/:id', WEBHOOKS, async (request, reply) => endpointPage(request, reply, request.params.id));

  /** One action on one endpoint, then back to its page (or the list) with a notice. */
  const action = (path: string, run: (a: Admin, id: string, params: Record<string, string>, reply: FastifyReply, request: FastifyRequest) => Promise<string | FastifyReply>) =>
    app.post<{ Params: { id: string } }, FormAt>(`/admin/webhooks/:id${path}`, needs('webhooks.manage', formAt((r) => `/admin/webhooks/${(r.params as { id: string }).id}`)), async (request, reply) => {
      const a = checkedAdmin(request);
      const { id } = request.params;
      try {
        const done = await run(a, id, request.params as Record<string, string>, reply, request);
        if (typeof done !== 'string') return done;
        return redirect(reply, done.startsWith('/') ? done : `/admin/webhooks/${id}?done=${done}`);
      } catch (err) {
        if (isAppError(err, 'not_found')) return notFoundPage(request, reply);
        if (isAppError(err, 'endpoint_disabled')) return redirect(reply, `/admin/webhooks/${id}`);
        throw err;
      }
    });

  action('/test', async (a, id) => { await sendTestEvent(ctx, scopeOf(a), id); return 'test-sent'; });
  action('/disable', async (a, id) => { await updateEndpoint(ctx, scopeOf(a), id, { disabled: true }, a.actor); return 'disabled'; });
  action('/enable', async (a, id) => { await updateEndpoint(ctx, scopeOf(a), id, { disabled: false }, a.actor); return 'enabled'; });
  action('/delete', async (a, id) => { await deleteEndpoint(ctx, scopeOf(a), id, a.actor); return '/admin/webhooks?done=deleted'; });
  action('/rotate', async (a, id, _p, reply, request) => {
    const rotated = await updateEndpoint(ctx, scopeOf(a), id, { rotateSecret: true }, a.actor);
    return endpointPage(request, reply, id, rotated.secret);
  });
  action('/deliveries/:deliveryId/retry', async (a, id, params) => { await redeliver(ctx, scopeOf(a), id, params.deliveryId!, a.actor); return 'redelivered'; });
}
