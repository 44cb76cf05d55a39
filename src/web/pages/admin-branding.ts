// /admin/branding: the tenant's brand (name, logo, colour) as its admins set it. The same
// updateTenant as PATCH /admin/v1/tenants/{slug} `brand`, so both doors share every check and the
// `tenant_updated` audit line. The page itself is the preview: its header and brand.css are the
// saved brand's, and the native colour input shows the colour being picked.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import type { Actor } from '../../features/audit/audit.ts';
import { needs } from '../../features/admin/permissions.ts';
import { brandOf, settingsView, SettingsPatch } from '../../features/tenants/settings.ts';
import type { Tenant } from '../../features/tenants/store.ts';
import { updateTenant } from '../../features/tenants/tenants.ts';
import { parse } from '../../platform/http.ts';
import { html, type Html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, field, form } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { formField, messages, queryField, redirect } from '../respond.ts';

/** What the console's door (admin.ts) hands this page: the checked admin and the page shell. */
export interface ConsoleKit {
  admin: (request: FastifyRequest) => { tenant: Tenant; actor: Actor; csrf: string };
  shell: (request: FastifyRequest, reply: FastifyReply, current: 'branding', title: string, body: Part, status?: number) => FastifyReply;
}

interface BrandForm { name: string; logoUrl: string; useColour: boolean; colour: string; }
type FieldErrors = Partial<Record<'name' | 'logoUrl' | 'color', string>>;

const BrandInput = z.object({ brand: SettingsPatch.brand });
const SETTINGS = { config: { permission: 'settings.manage' as const } };
const AT = { config: { formAt: () => '/admin/branding' } };

const csrfField = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

function brandingBody(m: Messages, v: { tenant: Tenant; csrf: string; form: BrandForm; errors: FieldErrors; notice?: Part; error?: string }): Html {
  const t = m.branding;
  const saved = settingsView(v.tenant).brand;
  const colour = brandOf(v.tenant).colour;
  return html`${v.notice}${v.error ? alert('error', v.error, 'branding-error') : ''}
<p class="lead">${t.intro}</p>
<section aria-labelledby="brand-now">
<h2 id="brand-now">${t.nowHeading}</h2>
${saved ? '' : html`<p>${t.unset(v.tenant.name)}</p>`}
<p class="brand-sample"><span class="brand-swatch" role="img" aria-label="${colour ? t.swatch(colour) : t.noColour}"></span>
<span>${colour ?? t.noColour}</span></p>
<p>${t.sampleText} <a href="/admin/branding">${t.sampleLink}</a></p>
<p><span class="btn btn-primary btn-inline" aria-hidden="true">${t.sampleButton}</span></p>
</section>
${form('/admin/branding', html`${csrfField(v.csrf)}
${field({ id: 'brand-name', name: 'name', label: t.name, type: 'text', autocomplete: 'organization', value: v.form.name, hint: t.nameHint, error: v.errors.name })}
${field({ id: 'brand-logo', name: 'logoUrl', label: t.logoUrl, type: 'text', autocomplete: 'off', value: v.form.logoUrl, hint: t.logoHint, error: v.errors.logoUrl, required: false, inputmode: 'url' })}
<div class="field${v.errors.color ? ' field-invalid' : ''}">
<label class="check"><input type="checkbox" name="useColour" value="1"${v.form.useColour ? html` checked` : ''}> ${t.useColour}</label>
<label for="brand-colour">${t.colour}</label>
<p class="hint" id="brand-colour-hint">${t.colourHint}</p>
${v.errors.color ? html`<p class="field-error" id="brand-colour-error">${v.errors.color}</p>` : ''}
<input id="brand-colour" name="color" type="color" value="${v.form.colour}" aria-describedby="brand-colour-hint${v.errors.color ? ' brand-colour-error' : ''}">
</div>
<button class="btn btn-primary btn-inline" type="submit">${t.save}</button>`)}
${saved ? form('/admin/branding/remove', html`${csrfField(v.csrf)}<button class="btn btn-danger btn-inline" type="submit">${t.remove}</button>`, html` data-confirm="${t.removeConfirm}"`) : ''}`;
}

/** The form as the saved brand fills it. */
function savedForm(tenant: Tenant): BrandForm {
  const b = brandOf(tenant);
  return { name: b.name, logoUrl: b.logoUrl ?? '', useColour: b.colour !== null, colour: b.colour ?? '#1f4ed8' };
}

export function brandingRoutes(app: FastifyInstance, ctx: Ctx, kit: ConsoleKit) {
  const show = (request: FastifyRequest, reply: FastifyReply, v: { form?: BrandForm; errors?: FieldErrors; error?: string } = {}, status = 200) => {
    const a = kit.admin(request);
    const m = messages(request);
    const done = m.branding.done[queryField(request, 'done')];
    return kit.shell(request, reply, 'branding', m.branding.title, brandingBody(m, {
      tenant: a.tenant, csrf: a.csrf, form: v.form ?? savedForm(a.tenant), errors: v.errors ?? {},
      notice: done ? alert('success', done) : undefined, error: v.error,
    }), status);
  };

  app.get('/admin/branding', SETTINGS, async (request, reply) => show(request, reply));

  app.post('/admin/branding', needs('settings.manage', AT), async (request, reply) => {
    const a = kit.admin(request);
    const m = messages(request);
    const typed: BrandForm = {
      name: formField(request, 'name').trim(), logoUrl: formField(request, 'logoUrl').trim(),
      useColour: formField(request, 'useColour') !== '', colour: formField(request, 'color').trim(),
    };
    try {
      const { brand } = parse(BrandInput, { brand: { name: typed.name, logoUrl: typed.logoUrl || null, color: typed.useColour ? typed.colour : null } });
      await updateTenant(ctx, a.tenant, { brand }, a.actor);
      return redirect(reply, '/admin/branding?done=saved');
    } catch (err) {
      return pageError(m, reply, err, {
        again: (error, status) => show(request, reply, { form: typed, error }, status),
        codes: {
          // The message names the field ("brand.logoUrl: …"): shown under that field.
          invalid_request: (e) => {
            const key = String(e.extra.field ?? '').split('.')[1];
            const errors: FieldErrors = key === 'name' || key === 'logoUrl' || key === 'color' ? { [key]: e.message.replace(/^[^:]*:\s*/, '') } : {};
            return show(request, reply, { form: typed, errors, error: Object.keys(errors).length ? undefined : e.message }, 400);
          },
        },
      });
    }
  });

  app.post('/admin/branding/remove', needs('settings.manage', AT), async (request, reply) => {
    const a = kit.admin(request);
    await updateTenant(ctx, a.tenant, { brand: null }, a.actor);
    return redirect(reply, '/admin/branding?done=removed');
  });
}
