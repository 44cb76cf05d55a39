// The admin console's markup: the users table, one user, the reset form (a <dialog> with
// JavaScript, a page of its own without), the link to copy. Routes: admin.ts; the audit log: admin-audit.ts.
import type { UserDetails } from '../../features/accounts/accounts.ts';
import type { DeviceSession } from '../../features/sessions/sessions.ts';
import type { identityView } from '../../features/sso/store.ts';
import type { listDeliveries } from '../../platform/outbox/outbox.ts';
import { can, mayActOn, type Permission } from '../../features/admin/permissions.ts';
import { html, type Html, type Part } from '../html.ts';
import { durationText, type Messages } from '../i18n/index.ts';
import { alert, field, form, time } from '../layout.ts';

type M = Messages;
type Delivery = Awaited<ReturnType<typeof listDeliveries>>[number];
type Identity = ReturnType<typeof identityView>;

export const LIFETIMES = ['1h', '24h', '72h', '7d'] as const;
export type Lifetime = (typeof LIFETIMES)[number];

const csrf = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;
const at = (m: M, iso: string | null, now: Date) => (iso ? time(m, new Date(iso), now) : m.admin.never);

type NavKey = 'users' | 'audit' | 'webhooks' | 'branding' | 'scim';

/** The console's sections, each shown to the roles its permission allows (permissions.ts). */
const SECTIONS: [NavKey, string, Permission, (m: M) => string][] = [
  ['users', '/admin', 'users.read', (m) => m.admin.navUsers],
  ['audit', '/admin/audit', 'audit.read', (m) => m.admin.navAudit],
  ['webhooks', '/admin/webhooks', 'webhooks.manage', (m) => m.webhooks.nav],
  ['branding', '/admin/branding', 'settings.manage', (m) => m.branding.nav],
  ['scim', '/admin/scim', 'scim.manage', (m) => m.scim.nav],
];

/** The sections this role may open, who is signed in (and as what), sign out. */
export function adminNav(m: M, current: NavKey, email: string, csrfToken: string, role: string): Html {
  const item = (href: string, label: string, on: boolean) => html`<li><a href="${href}"${on ? html` aria-current="page"` : ''}>${label}</a></li>`;
  return html`<nav class="admin-nav" aria-label="${m.admin.navLabel}">
<ul>${SECTIONS.filter(([, , p]) => can(role, p)).map(([key, href, , label]) => item(href, label(m), current === key))}</ul>
<div class="admin-who"><span>${m.admin.signedInAs(email)} (${(m.admin.role as Record<string, string>)[role] ?? role})</span>
${form('/logout', html`${csrf(csrfToken)}<button class="link-button" type="submit">${m.signOut}</button>`)}</div>
</nav>`;
}

export function statusBadge(m: M, status: UserDetails['status']): Html {
  return html`<span class="badge badge-${status}">${m.admin.status[status]}</span>`;
}

export function methodsText(m: M, methods: UserDetails['signInMethods']): string {
  if (methods.length === 0) return m.admin.methodNone;
  return methods.map((x) => (x === 'password' ? m.admin.methodPassword : m.admin.methodGoogle)).join(', ');
}

function issuedBy(m: M, p: NonNullable<UserDetails['pendingReset']>): string {
  if (p.issuedBy.type === 'user') return m.admin.byUser;
  if (p.issuedBy.type === 'operator') return m.admin.byOperator;
  return p.issuedBy.email ? m.admin.byAdmin(p.issuedBy.email) : m.admin.byAdminUnknown;
}

export function pendingShort(m: M, u: UserDetails, now: Date): Part {
  const p = u.pendingReset;
  if (!p) return html`<span class="muted">${m.admin.none}</span>`;
  return m.admin.pendingUntil(time(m, new Date(p.expiresAt), now), issuedBy(m, p));
}

/** Why a reset cannot start for this user, or null. */
export function resetBlocked(m: M, u: Pick<UserDetails, 'status'>, passwordOn: boolean): string | null {
  if (u.status === 'disabled') return m.admin.resetDisabled;
  if (u.status === 'locked') return m.admin.resetLocked;
  if (!passwordOn) return m.admin.resetPasswordOff;
  return null;
}

export function select(id: string, name: string, label: string, options: [string, string][], value: string): Html {
  return html`<div class="field"><label for="${id}">${label}</label>
<select id="${id}" name="${name}">${options.map(([v, l]) => html`<option value="${v}"${v === value ? html` selected` : ''}>${l}</option>`)}</select></div>`;
}

// ── reset ──────────────────────────────────────────────────────────────────────────────────────

export interface ResetFormInput { csrf: string; action: string; email: string; defaultTtlMs: number; cancel: Part; titleId?: string; }

/** The default lifetime is preselected; when it is none of the four, it is offered as a fifth. */
export function lifetimeOptions(m: M, defaultTtlMs: number): Html {
  const ms: Record<Lifetime, number> = { '1h': 3_600_000, '24h': 86_400_000, '72h': 259_200_000, '7d': 604_800_000 };
  const matches = LIFETIMES.find((l) => ms[l] === defaultTtlMs);
  const opt = (value: string, label: string, selected: boolean) => html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;
  return html`${matches ? '' : opt('', m.admin.lifetimeDefault(durationText(m, defaultTtlMs)), true)}
${LIFETIMES.map((l) => opt(l, l === matches ? m.admin.lifetimeDefault(durationText(m, ms[l])) : durationText(m, ms[l]), l === matches))}`;
}

export function resetForm(m: M, r: ResetFormInput): Html {
  const a = m.admin;
  const id = r.titleId ?? 'reset';
  return form(r.action, html`${csrf(r.csrf)}
<p>${a.resetIntro}</p>
<div class="field"><label for="${id}-lifetime">${a.lifetimeLabel}</label>
<select id="${id}-lifetime" name="expiresIn">${lifetimeOptions(m, r.defaultTtlMs)}</select></div>
${field({ id: `${id}-reason`, name: 'reason', label: a.reasonLabel, type: 'text', autocomplete: 'off', required: false, hint: a.reasonHint })}
<div class="button-row">
<button class="btn btn-primary" type="submit" name="delivery" value="email">${a.sendEmail}</button>
<button class="btn btn-secondary" type="submit" name="delivery" value="link">${a.createLink}</button>
${r.cancel}
</div>`, html` class="reset-form"`);
}

/** The confirmation as a modal <dialog>; admin.ts (client) opens it from any [data-reset-dialog] link. */
export function resetDialog(m: M, r: Omit<ResetFormInput, 'cancel' | 'titleId'>): Html {
  return html`<dialog id="reset-dialog" class="dialog" aria-labelledby="reset-dialog-title">
<h2 id="reset-dialog-title">${m.admin.resetTitlePrefix} <span data-reset-email>${r.email}</span></h2>
${resetForm(m, { ...r, titleId: 'reset-dialog', cancel: html`<button class="btn btn-secondary" type="button" data-close>${m.admin.cancel}</button>` })}
</dialog>`;
}

export function linkBody(m: M, v: { email: string; url: string; expiresAt: Date; now: Date; userId: string }): Html {
  const a = m.admin;
  return html`<p>${a.linkFor(v.email)}</p>
<div class="field"><label for="reset-link">${a.linkLabel}</label>
<div class="copy-row"><input id="reset-link" type="text" value="${v.url}" readonly spellcheck="false" autocapitalize="off" data-select-on-focus>
<button class="btn btn-secondary btn-inline" type="button" data-copy="reset-link" data-copied="${a.copied}" data-copy-failed="${a.copyFailed}" hidden>${a.copy}</button></div>
<p class="hint" id="copy-status" role="status" aria-live="polite"></p></div>
<p>${a.linkExpires(time(m, v.expiresAt, v.now))}</p>
<p class="toolbar"><a class="btn btn-secondary btn-inline" href="/admin/users/${v.userId}">${a.backToUser}</a></p>`;
}

// ── one user ───────────────────────────────────────────────────────────────────────────────────

export interface UserPageInput {
  user: UserDetails;
  identities: Identity[];
  deliveries: Delivery[];
  /** The user's live sessions (their devices), most recently used first. */
  sessions: DeviceSession[];
  csrf: string;
  now: Date;
  passwordOn: boolean;
  defaultTtlMs: number;
  self: boolean;
  /** The signed-in admin's or supervisor's role: what of this page they may use (permissions.ts). */
  viewerRole: string;
  notice?: Part;
  edit?: { name: string; email: string; role: string; emailError?: string };
  /** What the reset of two-step verification was sent with, when it is refused. */
  mfaReset?: { reason: string; error?: string };
}

function actionForm(action: string, token: string, label: string, kind: 'secondary' | 'danger', confirm?: string): Html {
  return form(action, html`${csrf(token)}<button class="btn btn-${kind} btn-inline" type="submit">${label}</button>`,
    confirm ? html` class="inline-form" data-confirm="${confirm}"` : html` class="inline-form"`);
}

function deliveryState(m: M, d: Delivery, now: Date): Html {
  const a = m.admin;
  const label = a.delivery[d.status as keyof typeof a.delivery] ?? d.status;
  const detail = d.status === 'sent' && d.smtpResponse
    ? html`<br><span class="muted">${a.smtpReply}: ${d.smtpResponse}</span>`
    : d.lastError ? html`<br><span class="muted">${a.failReason}: ${d.lastError}</span>` : '';
  const next = d.status === 'queued' && d.nextAttemptAt && d.attempts > 0 ? html`<br><span class="muted">${a.nextTry(time(m, new Date(d.nextAttemptAt), now))}</span>` : '';
  return html`<span class="badge badge-delivery-${d.status}">${label}</span>${detail}${next}`;
}

/** Where the user is signed in: device, IP address, when it signed in, when it was last used. */
function sessionsSection(m: M, v: UserPageInput): Html {
  const a = m.admin;
  const list = v.sessions.length === 0
    ? html`<p>${a.sessionsNone}</p>`
    : html`<div class="table-wrap"><table class="stack" id="user-sessions">
<thead><tr><th scope="col">${a.colDevice}</th><th scope="col">${a.colIp}</th><th scope="col">${a.colSignedIn}</th><th scope="col">${a.colLastUsed}</th></tr></thead>
<tbody>${v.sessions.map((s) => html`<tr>
<td data-label="${a.colDevice}">${s.device}${s.app ? html`<br><span class="muted">${s.app.name}</span>` : ''}</td>
<td data-label="${a.colIp}">${s.ip ?? a.none}</td>
<td data-label="${a.colSignedIn}">${time(m, s.createdAt, v.now)}</td>
<td data-label="${a.colLastUsed}">${time(m, s.lastSeenAt, v.now)}</td>
</tr>`)}</tbody></table></div>`;
  return html`<section aria-labelledby="sessions-heading"><h2 id="sessions-heading">${a.sessionsHeading}</h2>${list}</section>`;
}

/** Two-step verification at a glance (counts only, never a secret), and the reset for a lost factor. */
function mfaSection(m: M, v: UserPageInput): Html {
  const a = m.admin;
  const { user: u, mfaReset } = v;
  const facts = u.mfa.enabled
    ? html`<dl class="facts">
<dt>${a.statusLabel}</dt><dd>${a.mfaOn}</dd>
<dt>${a.mfaKinds}</dt><dd>${u.mfa.types.map((k) => a.mfaKind[k]).join(', ')}</dd>
<dt>${a.mfaCodesLeft}</dt><dd>${u.mfa.recoveryCodesLeft}</dd>
</dl>`
    : html`<p>${a.mfaOff}</p>`;
  const reset = !u.mfa.enabled || !may(v, 'users.mfa-reset') ? '' : v.self
    ? html`<p class="hint">${a.mfaOwn(html`<a href="/settings/security">${a.mfaOwnLink}</a>`)}</p>`
    : form(`/admin/users/${u.id}/mfa-reset`, html`${csrf(v.csrf)}
<p>${a.mfaResetIntro}</p>
${field({ id: 'mfa-reset-reason', name: 'reason', label: a.mfaReasonLabel, type: 'text', value: mfaReset?.reason ?? '', autocomplete: 'off', hint: a.mfaReasonHint, error: mfaReset?.error, attrs: html` maxlength="500"` })}
<button class="btn btn-danger btn-inline" type="submit">${a.mfaResetAction}</button>`, html` class="narrow" data-confirm="${a.mfaResetConfirm(u.email)}"`);
  return html`<section aria-labelledby="mfa-heading"><h2 id="mfa-heading">${a.mfaHeading}</h2>${facts}${reset}</section>`;
}

/** Whether the viewer may use this permission on this page's user (supervisors: members only). */
const may = (v: UserPageInput, p: Permission) => can(v.viewerRole, p) && mayActOn(v.viewerRole, v.user.role);

export function userBody(m: M, v: UserPageInput): Html {
  const a = m.admin;
  const u = v.user;
  const blocked = may(v, 'users.reset') ? resetBlocked(m, u, v.passwordOn) : m.floor.noReach;
  const p = u.pendingReset;
  const facts = html`<dl class="facts">
<dt>${a.emailLabel}</dt><dd>${u.email}</dd>
<dt>${a.nameLabel}</dt><dd>${u.name || a.none}</dd>
<dt>${a.roleLabel}</dt><dd>${a.role[u.role]}</dd>
<dt>${a.statusLabel}</dt><dd>${statusBadge(m, u.status)}${u.status === 'locked' ? html` <span class="muted">${a.statusLockedHint}</span>` : ''}</dd>
<dt>${a.colMethods}</dt><dd>${methodsText(m, u.signInMethods)}</dd>
<dt>${a.colLastSignIn}</dt><dd>${at(m, u.lastLoginAt, v.now)}</dd>
<dt>${a.created}</dt><dd>${time(m, new Date(u.createdAt), v.now)}</dd>
<dt>${a.pendingReset}</dt><dd>${p ? a.pendingDetail(time(m, new Date(p.issuedAt), v.now), time(m, new Date(p.expiresAt), v.now), issuedBy(m, p)) : a.pendingNone}</dd>
</dl>`;
  const actions = html`<div class="action-row">
${blocked ? '' : html`<a class="btn btn-primary btn-inline" href="/admin/users/${u.id}/reset" data-reset-dialog data-email="${u.email}">${a.resetAction}</a>`}
${u.status === 'locked' && may(v, 'users.unlock') ? actionForm(`/admin/users/${u.id}/unlock`, v.csrf, a.unlock, 'secondary') : ''}
${!may(v, 'users.edit') ? '' : u.status === 'disabled'
    ? actionForm(`/admin/users/${u.id}/enable`, v.csrf, a.enable, 'secondary')
    : v.self ? '' : actionForm(`/admin/users/${u.id}/disable`, v.csrf, a.disable, 'danger', a.disableConfirm(u.email))}
${u.status === 'disabled' || !may(v, 'users.sign-out') ? '' : actionForm(`/admin/users/${u.id}/sign-out`, v.csrf, a.signOutEverywhere, 'secondary', a.signOutConfirm(u.email))}
</div>${blocked ? html`<p class="hint">${blocked}</p>` : ''}`;
  const e = v.edit ?? { name: u.name, email: u.email, role: u.role };
  const edit = form(`/admin/users/${u.id}`, html`${csrf(v.csrf)}
${field({ id: 'edit-email', name: 'email', label: a.emailLabel, type: 'email', value: e.email, autocomplete: 'off', error: e.emailError })}
${field({ id: 'edit-name', name: 'name', label: a.nameLabel, type: 'text', value: e.name, autocomplete: 'off', required: false })}
${v.self ? html`<p class="hint">${a.ownRole}</p><input type="hidden" name="role" value="${e.role}">` : select('edit-role', 'role', a.roleLabel, [['member', a.role.member], ['supervisor', a.role.supervisor], ['admin', a.role.admin]], e.role)}
<button class="btn btn-secondary btn-inline" type="submit">${a.save}</button>`, html` class="narrow"`);
  const identities = v.identities.length === 0 ? '' : html`<section aria-labelledby="identities-heading">
<h2 id="identities-heading">${a.identitiesHeading}</h2>
<ul class="plain-list">${v.identities.map((i) => html`<li>${a.identityLine(i.emailAtLink, time(m, new Date(i.linkedAt), v.now))}
${may(v, 'users.unlink') ? actionForm(`/admin/users/${u.id}/identities/${i.id}/unlink`, v.csrf, a.unlink, 'secondary', a.unlinkConfirm) : ''}</li>`)}</ul>
</section>`;
  const deliveries = v.deliveries.length === 0
    ? html`<p>${a.deliveriesNone}</p>`
    : html`<div class="table-wrap"><table class="stack">
<thead><tr><th scope="col">${a.colQueued}</th><th scope="col">${a.colSubject}</th><th scope="col">${a.colDelivery}</th><th scope="col">${a.colAttempts}</th></tr></thead>
<tbody>${v.deliveries.map((d) => html`<tr>
<td data-label="${a.colQueued}">${time(m, new Date(d.queuedAt), v.now)}${d.sentAt ? html`<br><span class="muted">${a.sentAt(time(m, new Date(d.sentAt), v.now))}</span>` : ''}</td>
<td data-label="${a.colSubject}">${d.subject}<br><span class="muted">${d.to}</span></td>
<td data-label="${a.colDelivery}">${deliveryState(m, d, v.now)}</td>
<td data-label="${a.colAttempts}">${d.attempts}</td>
</tr>`)}</tbody></table></div>`;
  const resend = blocked ? '' : form(`/admin/users/${u.id}/reset`, html`${csrf(v.csrf)}<input type="hidden" name="delivery" value="email">
<button class="btn btn-secondary btn-inline" type="submit" aria-describedby="resend-hint">${a.resend}</button>
<p class="hint" id="resend-hint">${a.resendHint}</p>`, html` class="resend-form"`);
  return html`${v.notice}
${facts}
<section aria-labelledby="actions-heading"><h2 id="actions-heading">${a.actionsHeading}</h2>${actions}</section>
${sessionsSection(m, v)}
${mfaSection(m, v)}
<section aria-labelledby="deliveries-heading"><h2 id="deliveries-heading">${a.deliveriesHeading}</h2>${deliveries}${resend}</section>
${may(v, 'users.edit') ? html`<section aria-labelledby="edit-heading"><h2 id="edit-heading">${a.editHeading}</h2>${edit}</section>` : ''}
${identities}
${may(v, 'users.erase') && !v.self ? html`<section aria-labelledby="erase-heading"><h2 id="erase-heading">${m.floor.eraseHeading}</h2>
<p>${m.floor.eraseText}</p>${actionForm(`/admin/users/${u.id}/erase`, v.csrf, m.floor.eraseAction, 'danger', m.floor.eraseConfirm(u.email))}</section>` : ''}
<ul class="links links-start"><li><a href="/admin/audit?userId=${u.id}">${a.auditForUser}</a></li><li><a href="/admin">${a.backToUsers}</a></li></ul>
${blocked ? '' : resetDialog(m, { csrf: v.csrf, action: `/admin/users/${u.id}/reset`, email: u.email, defaultTtlMs: v.defaultTtlMs })}`;
}

// ── create ─────────────────────────────────────────────────────────────────────────────────────

export function createBody(m: M, v: { csrf: string; email?: string; name?: string; role?: string; welcome: boolean; passwordOn: boolean; defaultTtlMs: number; error?: string; emailError?: string }): Html {
  const a = m.admin;
  return html`${v.error ? alert('error', v.error, 'create-error') : ''}
${form('/admin/users', html`${csrf(v.csrf)}
${field({ id: 'email', name: 'email', label: a.emailLabel, type: 'email', value: v.email ?? '', autocomplete: 'off', error: v.emailError, autofocus: true })}
${field({ id: 'name', name: 'name', label: a.nameOptional, type: 'text', value: v.name ?? '', autocomplete: 'off', required: false })}
${select('role', 'role', a.roleLabel, [['member', a.role.member], ['supervisor', a.role.supervisor], ['admin', a.role.admin]], v.role ?? 'member')}
${v.passwordOn ? html`<div class="field"><label class="check"><input type="checkbox" name="sendWelcome" value="1"${v.welcome ? html` checked` : ''} aria-describedby="welcome-hint"> ${a.welcomeLabel}</label>
<p class="hint" id="welcome-hint">${a.welcomeHint(durationText(m, v.defaultTtlMs))}</p></div>` : ''}
<div class="button-row"><button class="btn btn-primary" type="submit">${a.createUser}</button>
<a class="btn btn-secondary" href="/admin">${a.cancel}</a></div>`, html` class="narrow"`)}`;
}
