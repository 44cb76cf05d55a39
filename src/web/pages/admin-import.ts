// The console's CSV pages: importing users (rows → preview → create them all or none) and the
// users download. Over the same feature functions as POST /api/v1/admin/users/import and
// GET /api/v1/admin/users/export, so every door shares every rule.
//
// Without JavaScript the rows are pasted into a text box; with it, a file chooser reads the chosen
// file into that box (client/import.ts). The preview carries the rows to the apply form in a hidden
// field with a keyed digest of them: apply creates exactly what was previewed, checks every row
// again inside its transaction, and when anything changed meanwhile creates nothing and shows the
// new preview.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { exportUsersCsv, usersCsvName } from '../../features/accounts/export.ts';
import { checkImport, importUsers, rowsFromCsv, type ImportPlan, type PlannedRow } from '../../features/accounts/import.ts';
import { sendWelcomes } from '../../features/admin/admin-reset.ts';
import type { Actor } from '../../features/audit/audit.ts';
import { allowsPassword, type Tenant } from '../../features/tenants/store.ts';
import type { Ctx } from '../../context.ts';
import { Secrets } from '../../platform/crypto.ts';
import { html, type Html, type Part } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { alert, form } from '../layout.ts';
import { pageError } from '../page-errors.ts';
import { formField, hrefWith, messages, queryField, redirect } from '../respond.ts';
import { filterOptions, readFilters, type ListFilters } from './admin-users.ts';

/** What the console's door (admin.ts) hands these pages. */
export interface ConsolePieces {
  staff(request: FastifyRequest): { tenant: Tenant; actor: Actor; csrf: string };
  shell(request: FastifyRequest, reply: FastifyReply, current: 'users', title: string, body: Part, status?: number): FastifyReply;
}

/** The rows a console import takes (a file of 10,000 agents is well under 1 MB). */
const MAX_CSV_BYTES = 4 * 1024 * 1024;
/** Its form posts carry the rows twice URL-encoded at worst: the console's usual 64 KiB is too small. */
const BODY_LIMIT = 3 * MAX_CSV_BYTES;
/** Rows listed in the preview: every problem row, then rows to create up to this many. */
const SHOWN = 1000;

const FORM_PATH = '/admin/users/import';
const IMPORT = { config: { permission: 'users.import' as const, formAt: () => FORM_PATH } };

const csrf = (token: string) => html`<input type="hidden" name="_csrf" value="${token}">`;

// A browser sends a form's line breaks as CRLF: the digest is over one spelling of them.
const normalized = (csv: string) => csv.replace(/\r\n?/g, '\n');
const digestOf = (ctx: Pick<Ctx, 'secrets'>, tenant: Tenant, csv: string) => ctx.secrets.hash('csv-import', `${tenant.id}\n${csv}`);

export function importRoutes(app: FastifyInstance, ctx: Ctx, con: ConsolePieces): void {
  // A context of its own: only these forms take a body big enough for a whole file.
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/x-www-form-urlencoded');
    await scope.register(formbody, { bodyLimit: BODY_LIMIT });

    scope.get(FORM_PATH, IMPORT, async (request, reply) => {
      const m = messages(request);
      const created = /^\d{1,6}$/.test(queryField(request, 'created')) ? Number(queryField(request, 'created')) : null;
      const notice = created === null ? undefined : alert('success', html`${queryField(request, 'welcome') ? m.csv.createdWelcome(created) : m.csv.created(created)} <a href="/admin">${m.csv.seeUsers}</a>`);
      return con.shell(request, reply, 'users', m.csv.title, uploadPage(m, { csrf: con.staff(request).csrf, notice }));
    });

    scope.post(`${FORM_PATH}/preview`, IMPORT, async (request, reply) => {
      const a = con.staff(request);
      const m = messages(request);
      const csv = normalized(formField(request, 'csv'));
      const again = (error: string, status: number) => con.shell(request, reply, 'users', m.csv.title, uploadPage(m, { csrf: a.csrf, csv, error }), status);
      if (csv.trim() === '') return again(m.csv.rowsMissing, 400);
      if (Buffer.byteLength(csv) > MAX_CSV_BYTES) return again(m.csv.tooBig(MAX_CSV_BYTES / 1024 / 1024), 413);
      try {
        const plan = await checkImport(ctx.db, a.tenant, rowsFromCsv(csv));
        return previewPage(request, reply, { plan, csv, welcome: false }, plan.problems.length ? 422 : 200);
      } catch (err) {
        return pageError(m, reply, err, { again, codes: { invalid_request: (e) => again(e.message.replace(/^csv: /, ''), 400) } });
      }
    });

    scope.post(`${FORM_PATH}/apply`, IMPORT, async (request, reply) => {
      const a = con.staff(request);
      const m = messages(request);
      const csv = normalized(formField(request, 'csv'));
      const welcome = allowsPassword(a.tenant) && formField(request, 'sendWelcome') !== '';
      const again = (error: string, status: number) => con.shell(request, reply, 'users', m.csv.title, uploadPage(m, { csrf: a.csrf, csv, error }), status);
      try {
        const rows = rowsFromCsv(csv);
        // Only what was previewed is created: other rows get a preview of their own first.
        if (!Secrets.equal(formField(request, 'digest'), digestOf(ctx, a.tenant, csv))) {
          const plan = await checkImport(ctx.db, a.tenant, rows);
          return previewPage(request, reply, { plan, csv, welcome, notice: alert('error', m.csv.changed) }, 409);
        }
        const done = await importUsers(ctx, a.tenant, rows, a.actor, {
          allOrNothing: true, createdInTx: welcome ? async (tx, made) => { await sendWelcomes(ctx, tx, a.tenant, made, a.actor); } : undefined,
        });
        return redirect(reply, `${FORM_PATH}?created=${done.created}${welcome ? '&welcome=1' : ''}`);
      } catch (err) {
        return pageError(m, reply, err, {
          again,
          codes: {
            // A row changed between the preview and now (someone created one of these users).
            import_rejected: async () => {
              const plan = await checkImport(ctx.db, a.tenant, rowsFromCsv(csv));
              return previewPage(request, reply, { plan, csv, welcome, notice: alert('error', m.csv.raced) }, 409);
            },
            invalid_request: (e) => again(e.message.replace(/^csv: /, ''), 400),
          },
        });
      }
    });

    scope.get('/admin/users/export', { config: { permission: 'users.export' } }, async (request, reply) => {
      const { tenant } = con.staff(request);
      const filter = filterOptions(readFilters((k) => queryField(request, k)));
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${usersCsvName(tenant, ctx.clock.now())}"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(exportUsersCsv(ctx, tenant, filter)));
    });
  });

  function previewPage(request: FastifyRequest, reply: FastifyReply, v: { plan: ImportPlan; csv: string; welcome: boolean; notice?: Html }, status: number) {
    const a = con.staff(request);
    const m = messages(request);
    return con.shell(request, reply, 'users', m.csv.previewTitle, previewBody(m, {
      ...v, csrf: a.csrf, digest: digestOf(ctx, a.tenant, v.csv), passwordOn: allowsPassword(a.tenant),
    }), status);
  }
}

// ── views ────────────────────────────────────────────────────────────────────────────────────────

function rowsField(m: Messages, csv: string, error?: string): Html {
  return html`<div class="field csv-rows${error ? ' field-invalid' : ''}">
<label for="csv">${m.csv.rows}</label>
<p class="hint" id="csv-hint">${m.csv.rowsHint}</p>
${error ? html`<p class="field-error" id="csv-error" role="alert">${error}</p>` : ''}
<textarea id="csv" name="csv" rows="10" spellcheck="false" autocapitalize="off" aria-describedby="csv-hint${error ? ' csv-error' : ''}"${error ? html` aria-invalid="true"` : ''}>${csv}</textarea>
</div>`;
}

/** The file (with JavaScript) or the pasted rows, and Preview. */
function uploadForm(m: Messages, v: { csrf: string; csv?: string; error?: string }): Html {
  return form(`${FORM_PATH}/preview`, html`${csrf(v.csrf)}
<div class="field csv-file" data-csv-file data-not-utf8="${m.csv.notUtf8}" hidden>
<label for="csv-file">${m.csv.file}</label>
<p class="hint" id="csv-file-hint">${m.csv.fileHint}</p>
<p class="field-error" id="csv-file-error" role="alert"></p>
<input id="csv-file" type="file" accept=".csv,text/csv" aria-describedby="csv-file-hint csv-file-error">
</div>
${rowsField(m, v.csv ?? '', v.error)}
<button class="btn btn-primary" type="submit">${m.csv.preview}</button>`);
}

function uploadPage(m: Messages, v: { csrf: string; csv?: string; error?: string; notice?: Html }): Html {
  return html`${v.notice ?? ''}<p>${m.csv.intro}</p><p>${m.csv.allOrNothing}</p>${uploadForm(m, v)}`;
}

function outcome(m: Messages, r: PlannedRow): Html {
  if (!r.problem) return html`<span class="badge badge-active">${m.csv.create}</span>`;
  const p = m.csv.problem[r.problem.code];
  return html`<span class="badge badge-disabled">${typeof p === 'function' ? p(r.role) : p}</span>`;
}

function previewBody(m: Messages, v: { plan: ImportPlan; csv: string; csrf: string; digest: string; welcome: boolean; passwordOn: boolean; notice?: Html }): Html {
  const c = m.csv;
  const bad = v.plan.problems.length;
  const listed = bad ? [...v.plan.rows.filter((r) => r.problem), ...v.plan.rows.filter((r) => !r.problem)].slice(0, Math.max(SHOWN, bad)) : v.plan.rows.slice(0, SHOWN);
  listed.sort((x, y) => x.row - y.row);
  const hidden = v.plan.rows.length - listed.length;
  const table = html`<div class="table-wrap"><table class="stack">
<caption class="visually-hidden">${c.previewTitle}</caption>
<thead><tr><th scope="col">${c.colLine}</th><th scope="col">${c.colEmail}</th><th scope="col">${c.colName}</th><th scope="col">${c.colRole}</th><th scope="col">${c.colOutcome}</th></tr></thead>
<tbody>${listed.map((r) => html`<tr${r.problem ? html` class="row-problem"` : ''}>
<td data-label="${c.colLine}">${r.line ?? r.row}</td><td data-label="${c.colEmail}">${r.email}</td><td data-label="${c.colName}">${r.name}</td>
<td data-label="${c.colRole}">${(m.admin.role as Record<string, string>)[r.role] ?? r.role}</td><td data-label="${c.colOutcome}">${outcome(m, r)}</td>
</tr>`)}</tbody></table></div>
${hidden ? html`<p class="muted">${c.notShown(hidden)}</p>` : ''}`;
  const summary = html`<p id="import-summary"><strong>${c.summary(v.plan.rows.length, v.plan.toCreate, bad)}</strong></p>`;
  if (bad) {
    return html`${v.notice ?? ''}${alert('error', c.fixFile)}${summary}${table}
${uploadForm(m, { csrf: v.csrf, csv: v.csv })}`;
  }
  const apply = form(`${FORM_PATH}/apply`, html`${csrf(v.csrf)}
<input type="hidden" name="csv" value="${v.csv}">
<input type="hidden" name="digest" value="${v.digest}">
${v.passwordOn ? html`<div class="field"><label class="check"><input type="checkbox" name="sendWelcome" value="1"${v.welcome ? html` checked` : ''}> ${c.welcome}</label></div>` : ''}
<div class="toolbar"><button class="btn btn-primary btn-inline" type="submit">${c.createAll(v.plan.toCreate)}</button>
<a class="btn btn-secondary btn-inline" href="${FORM_PATH}">${c.another}</a></div>`);
  return html`${v.notice ?? ''}${alert('info', c.ready)}${summary}${apply}${table}`;
}

/** The users list's links to these pages, for who may use them. */
export function csvLinks(m: Messages, v: { canImport: boolean; canExport: boolean; filters: ListFilters }): Html {
  const { after: _page, ...filters } = v.filters; // the download has every page
  return html`${v.canImport ? html`<a class="btn btn-secondary btn-inline" href="${FORM_PATH}">${m.csv.importUsers}</a>` : ''}
${v.canExport ? html`<a class="btn btn-secondary btn-inline" href="${hrefWith('/admin/users/export', filters)}" download title="${m.csv.downloadHint}">${m.csv.download}</a>` : ''}`;
}
