// /admin/scim: the tenant's SCIM tokens — the base URL to give the identity provider, the tokens
// (label, made, last used), making one (shown once, on the answer to that form) and revoking one.
// The same feature functions as /api/v1/admin/scim-tokens, so both doors share every audit line.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import type { Actor } from '../../features/audit/audit.ts';
import { needs } from '../../features/admin/permissions.ts';
import { SCIM_PREFIX } from '../../features/scim/routes.ts';
import { createToken, listTokens, revokeToken, type TokenView } from '../../features/scim/tokens.ts';
import type { Tenant } from '../../features/tenants/store.ts';
import { html, type Html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, field, form, time } from '../layout.ts';
import { formField, isAppError, messages, queryField, redirect } from '../respond.ts';
import { notFoundPage } from './not-found.ts';

/** What the console's door (admin.ts) hands this page: the checked admin and the page shell. */
export interface ScimConsoleKit {
  admin: (request: FastifyRequest) => { tenant: Tenant; actor: Actor; csrf: string };
  shell: (request: FastifyRequest, reply: FastifyReply, current: 'scim', title: string, body: Part, status?: number) => FastifyReply;
}

const MANAGE = { config: { permission: 'scim.manage' as const } };
const AT = { config: { formAt: () => '/admin/scim' } };
const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

function copyRow(m: Messages, id: string, label: string, value: string): Html {
  return html`<div class="field"><label for="${id}">${label}</label>
<div class="copy-row"><input id="${id}" type="text" value="${value}" readonly spellcheck="false" autocapitalize="off" data-select-on-focus>
<button class="btn btn-secondary btn-inline" type="button" data-copy="${id}" data-copied="${m.admin.copied}" data-copy-failed="${m.admin.copyFailed}" hidden>${m.admin.copy}</button></div></div>`;
}

function scimBody(m: Messages, v: { baseUrl: string; tokens: TokenView[]; csrf: string; now: Date; token?: string; notice?: Part }): Html {
  const s = m.scim;
  const made = v.token ? html`<section class="panel" aria-labelledby="token-title"><h2 id="token-title">${s.tokenTitle}</h2>
<p>${s.tokenText}</p>
${copyRow(m, 'scim-token', s.tokenTitle, v.token)}
<p class="hint" id="copy-status" role="status" aria-live="polite"></p>
<p class="toolbar"><a class="btn btn-primary btn-inline" href="/admin/scim">${s.tokenCopied}</a></p></section>` : '';
  const table = v.tokens.length === 0 ? html`<p>${s.none}</p>` : html`<div class="table-wrap"><table class="stack">
<thead><tr><th scope="col">${s.colLabel}</th><th scope="col">${s.colCreated}</th><th scope="col">${s.colLastUsed}</th><th scope="col">${s.colActions}</th></tr></thead>
<tbody>${v.tokens.map((t) => html`<tr>
<td data-label="${s.colLabel}">${t.label || html`<span class="muted">${s.unlabelled}</span>`}</td>
<td data-label="${s.colCreated}">${time(m, new Date(t.createdAt), v.now)}</td>
<td data-label="${s.colLastUsed}">${t.lastUsedAt ? time(m, new Date(t.lastUsedAt), v.now) : m.admin.never}</td>
<td data-label="${s.colActions}">${form(`/admin/scim/${t.id}/revoke`, html`${csrfField(v.csrf)}<button class="btn btn-danger btn-inline" type="submit">${s.revoke}</button>`, html` class="inline-form" data-confirm="${s.revokeConfirm}"`)}</td>
</tr>`)}</tbody></table></div>`;
  return html`${v.notice ?? ''}${made}<p class="lead">${s.intro}</p>
${copyRow(m, 'scim-base-url', s.baseUrl, v.baseUrl)}
<h2>${s.tokensHeading}</h2>
${table}
<section aria-labelledby="add-token"><h2 id="add-token">${s.addHeading}</h2>
${form('/admin/scim', html`${csrfField(v.csrf)}
${field({ id: 'scim-label', name: 'label', label: s.label, type: 'text', autocomplete: 'off', value: '', hint: s.labelHint, required: false })}
<button class="btn btn-primary btn-inline" type="submit">${s.add}</button>`)}</section>`;
}

export function scimTokenPages(app: FastifyInstance, ctx: Ctx, kit: ScimConsoleKit) {
  const show = async (request: FastifyRequest, reply: FastifyReply, token?: string, status = 200) => {
    const a = kit.admin(request);
    const m = messages(request);
    const done = m.scim.done[queryField(request, 'done')];
    return kit.shell(request, reply, 'scim', m.scim.title, scimBody(m, {
      baseUrl: `${ctx.config.publicUrl}${SCIM_PREFIX}/${a.tenant.slug}`, tokens: await listTokens(ctx, a.tenant), csrf: a.csrf,
      now: ctx.clock.now(), token, notice: done ? alert('success', done) : undefined,
    }), status);
  };

  app.get('/admin/scim', MANAGE, async (request, reply) => show(request, reply));

  // The answer to this form shows the token, this once (only its keyed hash is kept).
  app.post('/admin/scim', needs('scim.manage', AT), async (request, reply) => {
    const a = kit.admin(request);
    const made = await createToken(ctx, a.tenant, { label: formField(request, 'label').trim().slice(0, 200) }, a.actor);
    return show(request, reply, made.token, 201);
  });

  app.post('/admin/scim/:id/revoke', needs('scim.manage', AT), async (request, reply) => {
    const a = kit.admin(request);
    try {
      await revokeToken(ctx, a.tenant, (request.params as { id: string }).id, a.actor);
    } catch (err) {
      if (isAppError(err, 'not_found')) return notFoundPage(request, reply);
      throw err;
    }
    return redirect(reply, '/admin/scim?done=revoked');
  });
}
