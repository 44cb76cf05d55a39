// The provider's interaction is Keyturn's hosted login: an app's authorization request lands here;
// without a live Keyturn session (of the tenant the app asks for) the person signs in on the usual
// pages — tenant chooser, second step and Google included — and comes back; with one, the app is
// signed in at once. Either way the app gets its own app session, a child of the browser session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'drizzle-orm';
import type { Ctx } from '../../context.ts';
import { rowsOf, type Db } from '../../platform/db.ts';
import { esc } from '../../platform/html.ts';
import { tenantBySlug } from '../tenants/store.ts';
import { findClient, type ClientView } from './clients.ts';
import { audienceOf, INTERACTION_PATH, page, SCOPES, type OidcProvider } from './provider.ts';

const ASKABLE = new Set(SCOPES);

function messagePage(reply: FastifyReply, status: number, title: string, text: string) {
  return reply.code(status).type('text/html; charset=utf-8').send(page(title, `<h1>${esc(title)}</h1><p>${esc(text)}</p>`));
}

/**
 * Back to the provider through a page rather than a redirect: the sign-in form's
 * `form-action 'self'` would otherwise stop the redirect chain at the app's address.
 */
function continuePage(reply: FastifyReply, to: string, app: string) {
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=${esc(to)}"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Continuing to ${esc(app)} · Keyturn</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main class="card"><h1>Continuing to ${esc(app)}</h1><p><a class="btn btn-primary" href="${esc(to)}">Continue</a></p></main></body></html>`);
}

/**
 * The app a sign-in page is shown for ("to continue to …"): read from the provider's interaction
 * that `next` returns to, so a crafted link cannot name an app of its choosing.
 */
export async function appNameFor(db: Db, next: string): Promise<string | undefined> {
  const uid = new RegExp(`^${INTERACTION_PATH}/([A-Za-z0-9_-]{1,64})(\\?|$)`).exec(next)?.[1];
  if (!uid) return undefined;
  const [row] = rowsOf<{ name: string }>(await db.execute(sql`
    select c.name from oidc_payloads p join oidc_clients c on c.client_id = p.payload->'params'->>'client_id'
    where p.kind = 'Interaction' and p.id = ${uid} and p.expires_at > now()`));
  return row?.name;
}

export async function interactionRoutes(app: FastifyInstance, { ctx, oidc }: { ctx: Ctx; oidc: OidcProvider }) {
  app.get(`${INTERACTION_PATH}/:uid`, async (request: FastifyRequest, reply: FastifyReply) => {
    const provider = await oidc.get();
    let details: Awaited<ReturnType<typeof provider.interactionDetails>>;
    try {
      details = await provider.interactionDetails(request.raw, reply.raw);
    } catch {
      return messagePage(reply, 400, 'This sign-in has expired', 'Go back to the app and sign in again.');
    }
    const client = await findClient(ctx.db, String(details.params.client_id));
    if (!client) return messagePage(reply, 400, 'Unknown app', 'This app is not registered with Keyturn.');
    const finish = async (result: Parameters<typeof provider.interactionResult>[2]) =>
      continuePage(reply, await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false }), client.name);

    const asked = typeof details.params.tenant === 'string' ? details.params.tenant : undefined;
    const wanted = asked ?? (client.tenants?.length === 1 ? client.tenants[0] : undefined);
    if (wanted && client.tenants && !client.tenants.includes(wanted)) {
      return finish({ error: 'access_denied', error_description: `This app is not available to ${wanted}.` });
    }
    const found = await request.session();
    const session = found?.via === 'cookie' ? found : null;
    const here = `${INTERACTION_PATH}/${details.uid}`;
    // prompt=login or max_age: the app wants a sign-in made now. The session that was here when
    // it asked is remembered (by a keyed hash) and does not count.
    const stale = (request.query as { after?: unknown }).after;
    const wantsFresh = details.prompt.name === 'login' && details.prompt.reasons.some((r) => r === 'login_prompt' || r === 'max_age');
    const isStale = session !== null && (typeof stale === 'string' ? stale === staleMark(ctx, session.idHash) : wantsFresh);
    if (!session || isStale || (wanted && session.tenant.slug !== wanted)) {
      const tenant = wanted ? await tenantBySlug(ctx.db, wanted) : undefined;
      if (wanted && !tenant) return finish({ error: 'invalid_request', error_description: `There is no tenant ${wanted}.` });
      // Back here, a session other than the one marked counts as made now ('-': there was none).
      const mark = typeof stale === 'string' ? stale : session ? staleMark(ctx, session.idHash) : '-';
      const back = wantsFresh ? `${here}?after=${encodeURIComponent(mark)}` : here;
      return reply.redirect(`${tenant ? `/t/${tenant.slug}/login` : '/login'}?next=${encodeURIComponent(back)}${isStale ? '&again=1' : ''}`, 303);
    }
    if (!allowed(client, session.tenant.slug)) {
      return finish({ error: 'access_denied', error_description: `This app is not available to ${session.tenant.slug}.` });
    }

    const scopes = String(details.params.scope ?? 'openid').split(' ').filter((s) => ASKABLE.has(s));
    const grant = new provider.Grant({ accountId: session.user.id, clientId: client.clientId });
    grant.addOIDCScope(scopes.join(' '));
    grant.addResourceScope(audienceOf(ctx), scopes.filter((s) => s !== 'offline_access').join(' '));
    const grantId = await grant.save();
    await ctx.db.transaction((tx) => ctx.sessions.startApp(tx, {
      parentIdHash: session.idHash, clientId: client.clientId, grantId,
      ip: request.ip, userAgent: request.headers['user-agent'],
    }));
    return finish({
      login: { accountId: session.user.id, amr: session.amr, ts: Math.floor(session.createdAt.getTime() / 1000), remember: true },
      consent: { grantId },
    });
  });
}

const allowed = (client: ClientView, slug: string) => !client.tenants || client.tenants.includes(slug);
const staleMark = (ctx: Ctx, idHash: string) => ctx.secrets.hash('oidc-reauth', idHash).slice(0, 22);
