import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { mfaEnrollmentRequired, mfaRequired, unauthenticated } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { deviceCookieOf, setDeviceCookie } from '../abuse/devices.ts';
import { clearSessionCookie, csrfTokenFor, requireSession, setSessionCookie } from '../sessions/plugin.ts';
import { sessionView } from '../sessions/sessions.ts';
import type { FastifyReply } from 'fastify';
import { AnswerFields, answerFrom } from '../mfa/answer.ts';
import { finishSecondStep } from './second-step.ts';
import { signIn, signOut } from './sign-in.ts';
import type { SignInOutcome } from './signed-in.ts';

const LoginBody = z.object({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(1024),
  tenant: z.string().min(1).max(63).optional(),
  ticket: z.string().min(1).max(100).optional(),
  tokenType: z.enum(['cookie', 'bearer']).optional(),
  captcha: z.string().max(8192, 'is too long').optional(),
});

const UserView = z.object({ id: z.string(), email: z.string(), name: z.string(), role: z.enum(['admin', 'supervisor', 'member']) });
const TenantRef = z.object({ slug: z.string(), name: z.string() });
const LoginResponse = z.object({ user: UserView, tenant: TenantRef, expiresAt: z.iso.datetime(), token: z.string().optional() });
const ChooseTenant = z.object({ error: z.literal('choose_tenant'), message: z.string(), tenants: z.array(TenantRef), ticket: z.string() });
const SecondStepBody = z.object({
  ticket: z.string().min(1).max(100),
  ...AnswerFields,
  tokenType: z.enum(['cookie', 'bearer']).optional(),
});
const MfaRequired = z.object({
  error: z.literal('mfa_required'), message: z.string(), ticket: z.string(),
  methods: z.array(z.enum(['totp', 'webauthn', 'recovery_code'])), webauthn: z.looseObject({}).optional(),
});
export const SessionView = z.object({
  user: UserView, tenant: TenantRef, authMethod: z.enum(['password', 'google']),
  amr: z.array(z.string()).describe('How the person proved it was them: `pwd`, `google`, then `otp` (authenticator app or recovery code), `hwk` (security key), or `mfa` (Google with the IdP\'s own second factor).'),
  createdAt: z.iso.datetime(), expiresAt: z.iso.datetime(),
});

export async function signInRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/login', doc({
    summary: 'Sign in with email and password', tags: ['sessions'], auth: 'none', body: LoginBody,
    description: 'Sets the session cookie and the device cookie (a browser that signed in before keeps a failure budget of its own when strangers spend the account\'s), or returns `token` and sets no cookie when `tokenType` is `bearer`. With `tenant` omitted and the password right in several tenants: 300 with a ticket; repeat with `tenant` and `ticket`.',
    responses: {
      200: { description: 'Signed in.', schema: LoginResponse },
      300: { description: '`choose_tenant`: the password fits several tenants.', schema: ChooseTenant },
      ...common.invalid,
      401: err('`invalid_credentials` (same body for every wrong combination) or `invalid_ticket`.'),
      403: err('`mfa_required` (with `ticket`, `methods` and `webauthn` request options: answer at /api/v1/login/mfa), `mfa_enrollment_required` (with `ticket`: the tenant requires a factor the account lacks), `password_expired`, `account_locked` (the right password for an account locked from "this wasn\'t me") or `csrf_failed` (another origin).'),
      428: err('`captcha_required`, with `provider`, `challenge` and `reason`.'),
      ...common.limited,
    },
  }), async (request, reply) => {
    const body = parse(LoginBody, request.body);
    const result = await signIn(ctx, {
      email: body.email, password: body.password, tenant: body.tenant, ticket: body.ticket, captcha: body.captcha,
      ip: request.ip, userAgent: request.headers['user-agent'], device: deviceCookieOf(request),
    });
    if (result.kind === 'choose-tenant') {
      return reply.status(300).send({
        error: 'choose_tenant',
        message: 'This email and password fit several accounts — choose one.',
        tenants: result.tenants,
        ticket: result.ticket,
      });
    }
    return signedIn(reply, result, body.tokenType);
  });

  app.post('/api/v1/login/mfa', doc({
    summary: 'The second step of a sign-in', tags: ['sessions'], auth: 'none', body: SecondStepBody,
    description: 'Answers the `mfa_required` ticket with `method` and `code` (authenticator app, recovery code) or `response` (the WebAuthn assertion for the `webauthn` options). An `mfa_enrollment_required` ticket is sent alone, after a factor was added with it (`X-MFA-Ticket` on the MFA routes). The ticket works only from the client that got it, for 5 minutes, and dies after 5 wrong answers.',
    responses: {
      200: { description: 'Signed in.', schema: LoginResponse },
      ...common.invalid,
      401: err('`mfa_invalid` (with `attemptsLeft` on this ticket) or `invalid_ticket` (expired, used, worn out, or another client).'),
      403: err('`mfa_enrollment_required`: no factor was added with this enrolment ticket yet.'),
      ...common.limited,
    },
  }), async (request, reply) => {
    const body = parse(SecondStepBody, request.body);
    const result = await finishSecondStep(ctx, {
      ticket: body.ticket, answer: answerFrom(body),
      client: { ip: request.ip, userAgent: request.headers['user-agent'], device: deviceCookieOf(request) },
    });
    return signedIn(reply, result, body.tokenType);
  });

  /** The answer of a signed-in client: the cookies (or a bearer token); a second step as its 403. */
  function signedIn(reply: FastifyReply, result: SignInOutcome, tokenType: 'cookie' | 'bearer' | undefined) {
    if (result.kind === 'mfa-required') throw mfaRequired(result.ticket, result.methods, result.webauthn);
    if (result.kind === 'mfa-enrollment-required') throw mfaEnrollmentRequired(result.ticket);
    reply.request.tenantSlug = result.tenant.slug;
    const payload = { user: result.user, tenant: result.tenant, expiresAt: result.expiresAt.toISOString() };
    if (tokenType === 'bearer') return { ...payload, token: result.token }; // no cookie of any kind
    setSessionCookie(ctx, reply, result.token, result.expiresAt);
    setDeviceCookie(ctx, reply, result.device);
    return payload;
  }

  app.post('/api/v1/logout', doc({
    summary: 'End this session', tags: ['sessions'],
    responses: { 204: 'Signed out.', ...common.signIn, ...common.csrf },
  }), async (request, reply) => {
    const s = await requireSession(ctx, request);
    await signOut(ctx, s, request.ip);
    clearSessionCookie(ctx, reply);
    return reply.status(204).send();
  });

  app.get('/api/v1/session', doc({
    summary: 'Who is signed in', tags: ['sessions'],
    responses: { 200: { description: 'The live session: a revocation, a disabled account or a new role counts from the very next request, on every instance.', schema: SessionView }, ...common.signIn },
  }), async (request) => {
    const s = await request.session();
    if (!s) throw unauthenticated();
    return sessionView(s);
  });

  app.get('/api/v1/csrf', doc({
    summary: 'The CSRF token of a cookie session', tags: ['sessions'],
    responses: { 200: { description: 'Send it as X-CSRF-Token on state-changing cookie calls.', schema: z.object({ csrfToken: z.string() }) }, ...common.signIn },
  }), async (request) => {
    const s = await request.session();
    if (!s) throw unauthenticated('Sign in first: the CSRF token belongs to a session.');
    return { csrfToken: csrfTokenFor(ctx, s) };
  });
}

