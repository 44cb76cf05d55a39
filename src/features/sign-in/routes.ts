import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError, unauthenticated } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { parse } from '../../platform/http.ts';
import { clearSessionCookie, csrfTokenFor, requireSession, setSessionCookie } from '../sessions/plugin.ts';
import { sessionView } from '../sessions/sessions.ts';
import { signIn, signOut } from './sign-in.ts';

const LoginBody = z.object({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(1024),
  tenant: z.string().min(1).max(63).optional(),
  ticket: z.string().min(1).max(100).optional(),
  tokenType: z.enum(['cookie', 'bearer']).optional(),
  captcha: z.string().max(8192, 'is too long').optional(),
});

export async function signInRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/login', async (request, reply) => {
    const body = parse(LoginBody, request.body);
    const result = await signIn(ctx, {
      email: body.email, password: body.password, tenant: body.tenant, ticket: body.ticket, captcha: body.captcha,
      ip: request.ip, userAgent: request.headers['user-agent'],
    });
    if (result.kind === 'choose-tenant') {
      return reply.status(300).send({
        error: 'choose_tenant',
        message: 'This email and password fit several accounts — choose one.',
        tenants: result.tenants,
        ticket: result.ticket,
      });
    }
    const payload = { user: result.user, tenant: result.tenant, expiresAt: result.expiresAt.toISOString() };
    if (body.tokenType === 'bearer') return { ...payload, token: result.token };
    setSessionCookie(ctx, reply, result.token, result.expiresAt);
    return payload;
  });

  app.post('/api/v1/logout', async (request, reply) => {
    const s = await requireSession(ctx, request);
    await signOut(ctx, s, request.ip);
    clearSessionCookie(ctx, reply);
    return reply.status(204).send();
  });

  app.get('/api/v1/session', async (request) => {
    const s = await request.session();
    if (!s) throw unauthenticated();
    return sessionView(s);
  });

  app.get('/api/v1/csrf', async (request) => {
    const s = await request.session();
    if (!s) throw new AppError(401, 'unauthenticated', 'Sign in first: the CSRF token belongs to a session.');
    return { csrfToken: csrfTokenFor(ctx, s) };
  });
}
