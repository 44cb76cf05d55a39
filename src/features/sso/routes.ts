// GET /t/{slug}/sso/start and /t/{slug}/sso/callback on the public listener. Whatever goes wrong
// ends on the tenant's login page with `?sso_error=<reason>` — never an error page — and is
// logged (no secrets) and counted.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { setSessionCookie } from '../sessions/plugin.ts';
import { holdSecondStep, newBinding } from '../sign-in/held-step.ts';
import { tenantBySlug, type Tenant } from '../tenants/store.ts';
import { OidcConfigs, ssoConnection } from './connection.ts';
import { finishSignIn, SsoRefused, startSignIn, type SsoErrorReason } from './flow.ts';
import { countFailure } from './metrics.ts';

export const SSO_COOKIE = 'keyturn_sso';

/** What a failure may say in a log line: names and codes, never tokens, codes or secrets. */
function describe(e: unknown): Record<string, unknown> | undefined {
  if (!(e instanceof Error)) return undefined;
  const x = e as Error & { code?: unknown; error?: unknown; cause?: { code?: unknown } };
  return {
    name: x.name,
    message: x.message.slice(0, 200),
    ...(typeof x.code === 'string' ? { code: x.code } : {}),
    ...(typeof x.error === 'string' ? { oauthError: x.error } : {}),
    ...(typeof x.cause?.code === 'string' ? { causeCode: x.cause.code } : {}),
  };
}

export async function ssoRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  const configs = new OidcConfigs();
  const secure = ctx.config.publicUrl.startsWith('https:');
  const prefix = new URL(ctx.config.publicUrl).pathname.replace(/\/+$/, '');
  const cookiePath = (t: Tenant) => `${prefix}/t/${t.slug}/sso`;

  function refused(request: FastifyRequest, reply: FastifyReply, tenant: Tenant, e: unknown): FastifyReply {
    const r = e instanceof SsoRefused ? e : new SsoRefused('unavailable', 'unexpected error', e);
    const reason: SsoErrorReason = r.reason;
    countFailure(ctx.tallies.ssoFailures, reason);
    const line = {
      sso: { tenant: tenant.slug, issuer: ssoConnection(tenant)?.issuer, reason, detail: r.detail, error: describe(r.failure) },
    };
    if (reason === 'unavailable') request.log.warn(line, 'sso sign-in failed');
    else request.log.info(line, 'sso sign-in refused');
    return reply
      .header('cache-control', 'no-store')
      .redirect(`${ctx.config.publicUrl}/t/${tenant.slug}/login?sso_error=${reason}`, 303);
  }

  app.get<{ Params: { slug: string }; Querystring: { returnTo?: unknown; next?: unknown } }>('/t/:slug/sso/start', async (request, reply) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    if (!tenant) return reply.callNotFound();
    const q = request.query;
    const returnTo = typeof q.returnTo === 'string' ? q.returnTo : typeof q.next === 'string' ? q.next : undefined;
    try {
      const started = await startSignIn(ctx, configs, tenant, { returnTo });
      reply.setCookie(SSO_COOKIE, started.state, {
        path: cookiePath(tenant), httpOnly: true, sameSite: 'lax', secure, expires: started.expiresAt,
      });
      return reply.header('cache-control', 'no-store').redirect(started.url, 303);
    } catch (e) {
      return refused(request, reply, tenant, e);
    }
  });

  app.get<{ Params: { slug: string } }>('/t/:slug/sso/callback', async (request, reply) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    if (!tenant) return reply.callNotFound();
    const cookieState = request.cookies[SSO_COOKIE];
    // The state cookie is spent whatever happens next.
    reply.clearCookie(SSO_COOKIE, { path: cookiePath(tenant), httpOnly: true, sameSite: 'lax', secure });
    try {
      const binding = newBinding();
      const done = await finishSignIn(ctx, configs, tenant, {
        query: request.url.split('?')[1] ?? '', cookieState, ip: request.ip, userAgent: request.headers['user-agent'], binding,
      });
      if (done.outcome.kind !== 'signed-in') {
        // The same second step as after a password: the page holds the ticket for this browser.
        return reply.header('cache-control', 'no-store').redirect(holdSecondStep(ctx, reply, done.outcome, binding, done.returnTo), 303);
      }
      setSessionCookie(ctx, reply, done.outcome.token, done.outcome.expiresAt);
      return reply.header('cache-control', 'no-store').redirect(`${ctx.config.publicUrl}${done.returnTo}`, 303);
    } catch (e) {
      return refused(request, reply, tenant, e);
    }
  });
}
