// Who is calling: a session from the cookie or from `Authorization: Bearer`. Cookie-authenticated
// state changes also need the CSRF token (header X-CSRF-Token or form field _csrf).
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { csrfFailed, unauthenticated } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { Secrets } from '../../platform/crypto.ts';
import { SESSION_COOKIE, type SessionInfo } from './sessions.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's live session, looked up once per request. */
    session(): Promise<SessionInfo | null>;
    sessionCache?: Promise<SessionInfo | null>;
  }
}

export const csrfTokenFor = (ctx: Pick<Ctx, 'secrets'>, s: SessionInfo) => ctx.secrets.hash('csrf', s.idHash);

function bearerToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m?.[1];
}

export const sessionsPlugin = fp(async (app: FastifyInstance, opts: { ctx: Ctx }) => {
  const { ctx } = opts;
  app.decorateRequest('sessionCache', undefined);
  app.decorateRequest('session', function (this: FastifyRequest) {
    this.sessionCache ??= (async () => {
      const bearer = bearerToken(this);
      const cookie = bearer ? undefined : this.cookies[SESSION_COOKIE];
      const s = bearer ? await ctx.sessions.read(bearer, 'bearer') : cookie ? await ctx.sessions.read(cookie, 'cookie') : null;
      if (s) this.tenantSlug = s.tenant.slug;
      return s;
    })();
    return this.sessionCache;
  });
});

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session or 401; for a cookie session on a state-changing call, the CSRF token too. */
export async function requireSession(ctx: Pick<Ctx, 'secrets'>, request: FastifyRequest): Promise<SessionInfo> {
  const s = await request.session();
  if (!s) throw unauthenticated();
  if (s.via === 'cookie' && !SAFE.has(request.method)) {
    const body = request.body as Record<string, unknown> | undefined;
    const sent = request.headers['x-csrf-token'] ?? (typeof body?._csrf === 'string' ? body._csrf : undefined);
    if (typeof sent !== 'string' || !Secrets.equal(sent, csrfTokenFor(ctx, s))) throw csrfFailed();
  }
  return s;
}

export function setSessionCookie(ctx: Pick<Ctx, 'config'>, reply: FastifyReply, token: string, expiresAt: Date): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.config.publicUrl.startsWith('https:'),
    expires: expiresAt,
  });
}

export function clearSessionCookie(ctx: Pick<Ctx, 'config'>, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: ctx.config.publicUrl.startsWith('https:') });
}
