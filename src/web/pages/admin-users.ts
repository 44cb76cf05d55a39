// The console's users list at floor scale: how many match, filters that work without JavaScript,
// and bulk actions — on the ticked users or on every user matching the filter — with a page of
// per-user results. Routes: admin.ts (usersRoutes); the single-user views: admin-views.ts.
import type { UserDetails } from '../../features/accounts/accounts.ts';
import { BULK_ACTIONS, BULK_PERMISSION, type BulkAction } from '../../features/admin/bulk.ts';
import { can, mayActOn } from '../../features/admin/permissions.ts';
import { html, type Html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, field, form, time } from '../layout.ts';
import { hrefWith } from '../respond.ts';
import { methodsText, pendingShort, resetBlocked, select, statusBadge } from './admin-views.ts';

type M = Messages;

export interface ListFilters { q: string; status: string; role: string; mfa: string; method: string; inactive: string; after: string; }
export const INACTIVE_DAYS = ['7', '30', '90'] as const;

const FILTER_KEYS = ['q', 'status', 'role', 'mfa', 'method', 'inactive'] as const;

export const listHref = (f: ListFilters) => hrefWith('/admin', { ...f });

/** The filters of a query string (or a bulk form's hidden copy), each to one of its allowed values or ''. */
export function readFilters(get: (name: string) => string): ListFilters {
  const oneOf = (v: string, allowed: readonly string[]) => (allowed.includes(v) ? v : '');
  return {
    q: get('q').trim().slice(0, 200),
    status: oneOf(get('status'), ['active', 'disabled', 'locked']),
    role: oneOf(get('role'), ['admin', 'supervisor', 'member']),
    mfa: oneOf(get('mfa'), ['on', 'off']),
    method: oneOf(get('method'), ['password', 'google', 'none']),
    inactive: oneOf(get('inactive'), INACTIVE_DAYS),
    after: get('after').slice(0, 300),
  };
}

/** The filters as listUsers takes them. */
export function filterOptions(f: ListFilters) {
  return {
    q: f.q || undefined,
    status: (f.status || undefined) as UserDetails['status'] | undefined,
    role: (f.role || undefined) as UserDetails['role'] | undefined,
    mfa: (f.mfa || undefined) as 'on' | 'off' | undefined,
    method: (f.method || undefined) as 'password' | 'google' | 'none' | undefined,
    inactiveDays: f.inactive ? Number(f.inactive) : undefined,
  };
}

const filtered = (f: ListFilters) => FILTER_KEYS.some((k) => f[k]);

export interface UsersView {
  users: UserDetails[]; next: string | null; total: number; filters: ListFilters; now: Date; passwordOn: boolean;
  role: string; csrf: string; notice?: Part; resetDialog: Html; csvLinks?: Part;
}

function filtersForm(m: M, f: ListFilters): Html {
  const a = m.admin;
  const x = m.floor;
  return html`<form class="filters" method="get" action="/admin" role="search">
${field({ id: 'q', name: 'q', label: a.searchLabel, type: 'text', value: f.q, autocomplete: 'off', required: false })}
${select('status', 'status', a.statusLabel, [['', a.any], ['active', a.status.active], ['disabled', a.status.disabled], ['locked', a.status.locked]], f.status)}
${select('role', 'role', a.roleLabel, [['', a.any], ['admin', a.role.admin], ['supervisor', a.role.supervisor], ['member', a.role.member]], f.role)}
${select('mfa', 'mfa', x.mfaLabel, [['', a.any], ['on', x.mfaOn], ['off', x.mfaOff]], f.mfa)}
${select('method', 'method', x.methodLabel, [['', a.any], ['password', x.methodPassword], ['google', x.methodGoogle], ['none', x.methodNone]], f.method)}
${select('inactive', 'inactive', x.inactiveLabel, [['', x.inactiveAny], ...INACTIVE_DAYS.map((d): [string, string] => [d, x.inactiveDays(Number(d))])], f.inactive)}
<div class="filters-actions"><button class="btn btn-secondary btn-inline" type="submit">${a.search}</button>
${filtered(f) ? html`<a href="/admin">${a.clear}</a>` : ''}</div>
</form>`;
}

/** The bulk bar: the actions this role may take, a reason, and whether it is the ticked users or all matching. */
function bulkBar(m: M, v: UsersView, actions: BulkAction[]): Html {
  const x = m.floor;
  const keep = FILTER_KEYS.filter((k) => v.filters[k]).map((k) => html`<input type="hidden" name="${k}" value="${v.filters[k]}">`);
  return html`<fieldset class="bulk-bar"><legend>${x.bulkHeading}</legend>
${select('bulk-action', 'action', x.bulkAction, [['', x.bulkChoose], ...actions.map((k): [string, string] => [k, x.bulkActions[k] ?? k])], '')}
${field({ id: 'bulk-reason', name: 'reason', label: x.bulkReason, type: 'text', autocomplete: 'off', required: false, hint: x.bulkReasonHint, attrs: html` maxlength="500"` })}
<div class="field"><label class="check"><input type="radio" name="scope" value="selected" checked> ${x.bulkScopeSelected}</label>
<label class="check"><input type="radio" name="scope" value="all"> ${x.bulkScopeAll(v.total)}</label></div>
${keep}
<button class="btn btn-primary btn-inline" type="submit">${x.bulkApply}</button>
</fieldset>`;
}

export function usersBody(m: M, v: UsersView): Html {
  const f = v.filters;
  const a = m.admin;
  const x = m.floor;
  const actions = BULK_ACTIONS.filter((k) => can(v.role, BULK_PERMISSION[k]));
  const bulk = actions.length > 0 && v.users.length > 0;
  const rows = v.users.map((u) => {
    const blocked = resetBlocked(m, u, v.passwordOn);
    const reach = mayActOn(v.role, u.role);
    return html`<tr>
${bulk ? html`<td class="select"><input type="checkbox" name="ids" value="${u.id}" aria-label="${x.selectLabel(u.email)}"${reach ? '' : html` disabled`}></td>` : ''}
<td data-label="${a.colUser}">${reach ? html`<a href="/admin/users/${u.id}">${u.email}</a>` : u.email}${u.name ? html`<br><span class="muted">${u.name}</span>` : ''}</td>
<td data-label="${a.colRole}">${a.role[u.role]}</td>
<td data-label="${a.colStatus}">${statusBadge(m, u.status)}</td>
<td data-label="${a.colMethods}">${methodsText(m, u.signInMethods)}${u.mfa.enabled ? html`<br><span class="muted">${x.mfaLabel}</span>` : ''}</td>
<td data-label="${a.colLastSignIn}">${u.lastLoginAt ? time(m, new Date(u.lastLoginAt), v.now) : a.never}</td>
<td data-label="${a.colPendingReset}">${pendingShort(m, u, v.now)}</td>
<td class="nowrap" data-label="${a.colActions}">${!reach || !can(v.role, 'users.reset') ? html`<span class="muted">${a.none}</span>` : blocked
    ? html`<span class="muted" title="${blocked}">${u.status === 'disabled' ? a.enableFirst : u.status === 'locked' ? a.unlockFirst : a.none}</span>`
    : html`<a href="/admin/users/${u.id}/reset" data-reset-dialog data-email="${u.email}" aria-label="${a.resetActionFor(u.email)}">${a.resetAction}</a>`}</td>
</tr>`;
  });
  const table = v.users.length === 0
    ? html`<p>${a.noUsers}</p>`
    : html`<div class="table-wrap"><table class="stack" id="users">
<caption class="visually-hidden">${a.usersTitle}</caption>
<thead><tr>${bulk ? html`<th scope="col" class="select"><span class="visually-hidden">${x.selectPage}</span></th>` : ''}<th scope="col">${a.colUser}</th><th scope="col">${a.colRole}</th><th scope="col">${a.colStatus}</th><th scope="col">${a.colMethods}</th><th scope="col">${a.colLastSignIn}</th><th scope="col">${a.colPendingReset}</th><th scope="col">${a.colActions}</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
  const pager = html`<nav class="pager" aria-label="${a.pages}">
${f.after ? html`<a href="${listHref({ ...f, after: '' })}">${a.firstPage}</a>` : ''}
${v.next ? html`<a href="${listHref({ ...f, after: v.next })}" rel="next">${a.nextPage}</a>` : ''}
</nav>`;
  const count = html`<p class="count" id="users-count" role="status">${filtered(f) ? x.countMatching(v.total) : x.count(v.total)}</p>`;
  const create = can(v.role, 'users.create') ? html`<a class="btn btn-primary btn-inline" href="/admin/users/new">${a.createUser}</a>` : '';
  const listed = bulk
    ? form('/admin/users/bulk', html`<input type="hidden" name="_csrf" value="${v.csrf}">${bulkBar(m, v, actions)}${table}`, html` id="bulk" data-confirm="${x.bulkConfirm}"`)
    : table;
  return html`${v.notice}
<p class="toolbar">${create}${v.csvLinks ?? ''}</p>
${filtersForm(m, f)}
${count}
${listed}
${pager}
${v.resetDialog}`;
}

export interface BulkOutcome { action: BulkAction; done: number; failed: { email: string; message: string }[]; }

export function bulkResultBody(m: M, r: BulkOutcome, back: string): Html {
  const x = m.floor;
  const label = x.bulkActions[r.action] ?? r.action;
  return html`${alert(r.failed.length === 0 ? 'success' : 'info', x.bulkDone(label, r.done), 'bulk-result')}
${r.failed.length === 0 ? '' : html`<p>${x.bulkFailed(r.failed.length)}</p>
<ul class="plain-list" id="bulk-failed">${r.failed.map((f) => html`<li><strong>${f.email}</strong> — ${f.message}</li>`)}</ul>`}
<ul class="links links-start"><li><a href="${back}">${x.bulkBack}</a></li></ul>`;
}
