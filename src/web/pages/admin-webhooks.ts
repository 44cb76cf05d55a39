// The console's webhook pages: the endpoints of the tenant with the form to add one (the secret is
// shown once, on the answer to that form), and one endpoint's deliveries with every attempt.
// Routes: admin.ts (webhookRoutes), over the same feature functions as /api/v1/admin/webhooks.
import type { EndpointView } from '../../features/webhooks/endpoints.ts';
import type { listWebhookDeliveries } from '../../features/webhooks/delivery.ts';
import { WEBHOOK_EVENTS } from '../../features/webhooks/events.ts';
import { html, type Html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { field, form, time } from '../layout.ts';

type M = Messages;
type WebhookDelivery = Awaited<ReturnType<typeof listWebhookDeliveries>>[number];

const csrf = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

function actionForm(action: string, token: string, label: string, kind: 'secondary' | 'danger', confirm?: string): Html {
  return form(action, html`${csrf(token)}<button class="btn btn-${kind} btn-inline" type="submit">${label}</button>`,
    confirm ? html` class="inline-form" data-confirm="${confirm}"` : html` class="inline-form"`);
}

function state(m: M, e: EndpointView): string {
  const w = m.webhooks;
  if (!e.disabled) return w.enabled;
  return e.disabledReason === 'failing' ? w.disabledFailing : w.disabledByAdmin;
}

export interface AddForm { url: string; description: string; events: string[]; all: boolean; urlError?: string; eventsError?: string; }

export function webhooksBody(m: M, v: { endpoints: EndpointView[]; csrf: string; notice?: Part; secret?: string; add?: AddForm }): Html {
  const w = m.webhooks;
  const add = v.add ?? { url: '', description: '', events: [], all: true };
  const secret = v.secret ? html`<section class="panel" aria-labelledby="secret-title">
<h2 id="secret-title">${w.secretTitle}</h2>
<p>${w.secretText}</p>
<div class="field"><label for="webhook-secret">${w.secretTitle}</label>
<div class="copy-row"><input id="webhook-secret" type="text" value="${v.secret}" readonly spellcheck="false" autocapitalize="off" data-select-on-focus>
<button class="btn btn-secondary btn-inline" type="button" data-copy="webhook-secret" data-copied="${m.admin.copied}" data-copy-failed="${m.admin.copyFailed}" hidden>${m.admin.copy}</button></div>
<p class="hint" id="copy-status" role="status" aria-live="polite"></p></div>
<p class="toolbar"><a class="btn btn-primary btn-inline" href="/admin/webhooks">${w.secretCopied}</a></p>
</section>` : '';
  const table = v.endpoints.length === 0 ? html`<p>${w.none}</p>` : html`<div class="table-wrap"><table class="stack">
<thead><tr><th scope="col">${w.colUrl}</th><th scope="col">${w.colEvents}</th><th scope="col">${w.colStatus}</th><th scope="col">${w.colActions}</th></tr></thead>
<tbody>${v.endpoints.map((e) => html`<tr>
<td data-label="${w.colUrl}"><a href="/admin/webhooks/${e.id}">${e.url}</a>${e.description ? html`<br><span class="muted">${e.description}</span>` : ''}</td>
<td data-label="${w.colEvents}">${e.events.includes('*') ? w.allEvents : e.events.join(', ')}</td>
<td data-label="${w.colStatus}">${state(m, e)}</td>
<td data-label="${w.colActions}"><a class="btn btn-secondary btn-inline" href="/admin/webhooks/${e.id}">${w.details}</a></td>
</tr>`)}</tbody></table></div>`;
  const checks = WEBHOOK_EVENTS.map((type) => html`<label class="check"><input type="checkbox" name="events" value="${type}"${add.events.includes(type) ? html` checked` : ''}> <code>${type}</code></label>`);
  const addForm = form('/admin/webhooks', html`${csrf(v.csrf)}
${field({ id: 'webhook-url', name: 'url', label: w.url, type: 'text', inputmode: 'url', value: add.url, autocomplete: 'off', hint: w.urlHint, error: add.urlError })}
${field({ id: 'webhook-description', name: 'description', label: w.description, type: 'text', value: add.description, autocomplete: 'off', required: false })}
<fieldset class="field${add.eventsError ? ' field-invalid' : ''}"><legend>${w.events}</legend>
${add.eventsError ? html`<p class="field-error">${add.eventsError}</p>` : ''}
<label class="check"><input type="checkbox" name="all" value="1"${add.all ? html` checked` : ''}> ${w.allEvents}</label>
${checks}
</fieldset>
<button class="btn btn-primary" type="submit">${w.add}</button>`);
  return html`${v.notice ?? ''}${secret}<p>${w.intro}</p>
${table}
<section aria-labelledby="add-webhook"><h2 id="add-webhook">${w.addHeading}</h2>${addForm}</section>`;
}

function answer(m: M, a: WebhookDelivery['attempts'][number]): string {
  const text = a.status !== null ? `HTTP ${a.status}` : (a.error ?? m.webhooks.noAnswer);
  const body = a.responseBody ? ` — ${a.responseBody.slice(0, 200)}` : '';
  return `${text}${body}`;
}

export function webhookBody(m: M, v: { endpoint: EndpointView; deliveries: WebhookDelivery[]; csrf: string; now: Date; notice?: Part; secret?: string }): Html {
  const w = m.webhooks;
  const e = v.endpoint;
  const base = `/admin/webhooks/${e.id}`;
  const actions = html`<p class="toolbar">
${e.disabled ? '' : actionForm(`${base}/test`, v.csrf, w.sendTest, 'secondary')}
${e.disabled ? actionForm(`${base}/enable`, v.csrf, w.enable, 'secondary') : actionForm(`${base}/disable`, v.csrf, w.disable, 'secondary')}
${actionForm(`${base}/rotate`, v.csrf, w.rotate, 'secondary', w.rotateHint)}
${actionForm(`${base}/delete`, v.csrf, w.remove, 'danger', w.removeConfirm)}
</p>`;
  const secret = v.secret ? html`<section class="panel" aria-labelledby="secret-title"><h2 id="secret-title">${w.secretTitle}</h2>
<p>${w.secretText} ${w.rotateHint}</p>
<div class="field"><label for="webhook-secret">${w.secretTitle}</label>
<div class="copy-row"><input id="webhook-secret" type="text" value="${v.secret}" readonly spellcheck="false" autocapitalize="off" data-select-on-focus>
<button class="btn btn-secondary btn-inline" type="button" data-copy="webhook-secret" data-copied="${m.admin.copied}" data-copy-failed="${m.admin.copyFailed}" hidden>${m.admin.copy}</button></div>
<p class="hint" id="copy-status" role="status" aria-live="polite"></p></div></section>` : '';
  const rows = v.deliveries.length === 0 ? html`<p>${w.noDeliveries}</p>` : html`<div class="table-wrap"><table class="stack">
<thead><tr><th scope="col">${w.colEvent}</th><th scope="col">${w.colQueued}</th><th scope="col">${w.colStatus}</th><th scope="col">${w.colAttempts}</th><th scope="col">${w.colActions}</th></tr></thead>
<tbody>${v.deliveries.map((d) => html`<tr>
<td data-label="${w.colEvent}"><code>${d.type}</code><br><span class="muted">${d.id}</span></td>
<td data-label="${w.colQueued}">${time(m, new Date(d.createdAt), v.now)}</td>
<td data-label="${w.colStatus}">${w.status[d.status] ?? d.status}${d.nextAttemptAt ? html`<br><span class="muted">${w.nextAttempt}: ${time(m, new Date(d.nextAttemptAt), v.now)}</span>` : ''}</td>
<td data-label="${w.colAttempts}">${d.attempts.length === 0 ? '—' : html`<ol class="attempts">${d.attempts.map((a) => html`<li>${time(m, new Date(a.at), v.now)}: ${answer(m, a)}</li>`)}</ol>`}</td>
<td data-label="${w.colActions}">${d.status === 'sending' || e.disabled ? '' : actionForm(`${base}/deliveries/${d.id}/retry`, v.csrf, w.retry, 'secondary')}</td>
</tr>`)}</tbody></table></div>`;
  return html`${v.notice ?? ''}${secret}
<p><code>${e.url}</code>${e.description ? html` — ${e.description}` : ''}</p>
<p>${w.colEvents}: ${e.events.includes('*') ? w.allEvents : e.events.join(', ')} · ${w.colStatus}: ${state(m, e)}</p>
${actions}
<h2>${w.deliveriesHeading}</h2>
${rows}
<p class="toolbar"><a class="btn btn-secondary btn-inline" href="/admin/webhooks">${w.back}</a></p>`;
}
