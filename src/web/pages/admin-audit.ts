// The console's audit log: one sentence per event (who did what to whom, and why), the raw event
// one click away in a <details>, filters that work without JavaScript (event type grouped by topic,
// person, who acted, dates), "older" pages by id, and the downloads of what is filtered.
// Route: admin.ts (auditRoutes).
import { ACTOR_TYPES, AUDIT_TYPES, type AuditView } from '../../features/audit/audit.ts';
import { AUDIT_TOPICS, auditTopic } from '../../features/audit/sentences.ts';
import { hrefWith } from '../respond.ts';
import { html, type Html } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { field, time } from '../layout.ts';

type M = Messages;

/** The filters as typed (kept in the form and in every link of the page). */
export interface AuditFilters { user: string; userId: string; type: string; actor: string; from: string; to: string; before: string; }


export const typeLabel = (m: M, type: string) =>
  (m.admin.eventTypes as Record<string, string>)[type] ?? m.auditLog.moreTypes[type] ?? type;

function typeSelect(m: M, value: string): Html {
  const option = (v: string, label: string) => html`<option value="${v}"${v === value ? html` selected` : ''}>${label}</option>`;
  const groups = AUDIT_TOPICS.map((topic) => html`<optgroup label="${m.auditLog.topics[topic]}">${
    AUDIT_TYPES.filter((t) => auditTopic(t) === topic).map((t) => option(t, typeLabel(m, t)))}</optgroup>`);
  return html`<div class="field"><label for="audit-type">${m.admin.filterType}</label>
<select id="audit-type" name="type">${option('', m.admin.anyEvent)}${groups}</select></div>`;
}

function actorSelect(m: M, value: string): Html {
  const kinds = ['', ...ACTOR_TYPES];
  return html`<div class="field"><label for="audit-actor">${m.auditLog.actor}</label>
<select id="audit-actor" name="actor">${kinds.map((k) => html`<option value="${k}"${k === value ? html` selected` : ''}>${m.auditLog.actors[k] ?? k}</option>`)}</select></div>`;
}

function dateField(id: string, name: string, label: string, value: string, error?: string): Html {
  return html`<div class="field${error ? ' field-invalid' : ''}"><label for="${id}">${label}</label>
${error ? html`<p class="field-error" id="${id}-error">${error}</p>` : ''}
<input id="${id}" name="${name}" type="date" value="${value}"${error ? html` aria-invalid="true" aria-describedby="${id}-error"` : ''}></div>`;
}

export interface AuditPage {
  events: (AuditView & { text: string })[];
  filters: AuditFilters;
  now: Date;
  more: boolean;
  errors: { user?: string; from?: string; to?: string };
}

export function auditBody(m: M, v: AuditPage): Html {
  const a = m.admin;
  const f = v.filters;
  const kept = { userId: f.userId, type: f.type, actor: f.actor, from: f.from, to: f.to };
  const exportQuery = { userId: f.userId, type: f.type, actorType: f.actor, from: f.from, to: f.to };
  const filtered = Object.values(kept).some(Boolean) || f.user;
  const filters = html`<form class="filters" method="get" action="/admin/audit" role="search">
${field({ id: 'audit-user', name: 'user', label: a.filterUser, type: 'email', value: f.user, autocomplete: 'off', required: false, error: v.errors.user })}
${typeSelect(m, f.type)}
${actorSelect(m, f.actor)}
${dateField('audit-from', 'from', m.auditLog.from, f.from, v.errors.from)}
${dateField('audit-to', 'to', m.auditLog.to, f.to, v.errors.to)}
<div class="filters-actions"><button class="btn btn-secondary btn-inline" type="submit">${a.filter}</button>
${filtered ? html`<a href="/admin/audit">${a.clear}</a>` : ''}</div>
</form>`;
  const table = v.events.length === 0 ? html`<p>${a.noEvents}</p>` : html`<div class="table-wrap"><table class="stack audit-log">
<thead><tr><th scope="col">${a.colWhen}</th><th scope="col">${m.auditLog.colEvent}</th></tr></thead>
<tbody>${v.events.map((e) => html`<tr data-event-id="${String(e.id)}">
<td data-label="${a.colWhen}">${time(m, new Date(e.at), v.now)}</td>
<td data-label="${m.auditLog.colEvent}"><span class="audit-sentence">${e.text}</span>
<details class="raw-event"><summary>${m.auditLog.raw}</summary><pre>${JSON.stringify(rawOf(e), null, 2)}</pre></details></td>
</tr>`)}</tbody></table></div>`;
  const last = v.events[v.events.length - 1];
  return html`<p class="muted">${m.auditLog.intro}</p>
${filters}
<p class="toolbar"><a class="btn btn-secondary btn-inline" href="${hrefWith('/api/v1/admin/audit/export', { format: 'csv', ...exportQuery })}" download>${a.exportCsv}</a>
<a class="btn btn-secondary btn-inline" href="${hrefWith('/api/v1/admin/audit/export', { format: 'jsonl', ...exportQuery })}" download>${a.exportJsonl}</a></p>
${table}
<nav class="pager" aria-label="${a.pages}">
${f.before ? html`<a href="${hrefWith('/admin/audit', { ...kept, user: f.user })}">${a.newestEvents}</a>` : ''}
${v.more && last ? html`<a href="${hrefWith('/admin/audit', { ...kept, user: f.user, before: String(last.id) })}" rel="next">${a.olderEvents}</a>` : ''}
</nav>`;
}

/** The event as stored and as the API and the downloads give it, without the sentence made from it. */
function rawOf(e: AuditView & { text: string }): AuditView {
  const { text: _sentence, ...raw } = e;
  return raw;
}
