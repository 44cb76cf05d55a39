// /api/v1/mfa (CONTRACT §7): the signed-in account's factors, or — with `X-MFA-Ticket` instead of a
// session — an account its tenant requires to add one before it may sign in (enrolment only).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { invalidRequest, unauthenticated } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { confirmPassword } from '../accounts/current-password.ts';
import { accountById, type Account } from '../accounts/store.ts';
import type { Actor } from '../audit/audit.ts';
import { requireSession } from '../sessions/plugin.ts';
import {
  addWebauthn, confirmTotp, mfaStatus, removeFactor, renewRecoveryCodes, startTotp, webauthnRegistration,
} from './factors.ts';
import { openTicket } from './tickets.ts';

const Password = z.object({ currentPassword: z.string({ error: 'must be a string' }).max(4096).optional() });
const VerifyTotp = z.object({ code: z.string().min(1).max(20), label: z.string().min(1).max(100).optional() });
const AddKey = z.object({ response: z.looseObject({ id: z.string().max(2000) }), label: z.string().max(100).optional() });
const IdParam = z.object({ id: z.uuid() });

const FactorView = z.object({
  id: z.string(), type: z.enum(['totp', 'webauthn']), label: z.string(), createdAt: z.iso.datetime(), lastUsedAt: z.iso.datetime().nullable(),
});
const Added = z.object({ factor: FactorView, recoveryCodes: z.array(z.string()).optional().describe('Ten codes, with the first factor only: shown this once.') });
const tags = ['two-step verification'];
const who = {
  401: err('`unauthenticated` (no session and no `X-MFA-Ticket`) or `invalid_ticket`.'),
  403: err('`wrong_password` (currentPassword) or `csrf_failed`.'),
};

export const MFA_TICKET_HEADER = 'x-mfa-ticket';

/** Who is changing factors: a session (with its password re-entered), or an enrolment ticket. */
interface Subject { account: Account; actor: Actor; viaTicket: boolean; }

export async function mfaRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  async function subject(request: FastifyRequest, opts: { password: boolean; enrolment: boolean }): Promise<Subject> {
    const ticket = request.headers[MFA_TICKET_HEADER];
    if (typeof ticket === 'string' && opts.enrolment) {
      const row = await openTicket(ctx, ticket, { ip: request.ip, userAgent: request.headers['user-agent'] }, 'enroll');
      const account = await accountById(ctx.db, row.userId);
      if (!account || account.user.disabledAt || account.user.lockedAt) throw unauthenticated();
      return { account, actor: { type: 'user', id: account.user.id, ip: request.ip }, viaTicket: true };
    }
    const s = await requireSession(ctx, request);
    let account: Account | undefined;
    if (opts.password) {
      const { currentPassword } = parse(Password, request.body ?? {});
      if (currentPassword === undefined) throw invalidRequest('currentPassword: enter your password again.', { field: 'currentPassword' });
      account = await confirmPassword(ctx, s.user.id, currentPassword);
    } else {
      account = await accountById(ctx.db, s.user.id);
    }
    if (!account) throw unauthenticated();
    return { account, actor: { type: 'user', id: account.user.id, ip: request.ip }, viaTicket: false };
  }

  app.get('/api/v1/mfa', doc({
    summary: 'The account\'s second factors', tags,
    responses: {
      200: { description: 'Factors (never their secrets), recovery codes left, and whether the tenant requires a factor.', schema: z.object({ factors: z.array(FactorView), recoveryCodesLeft: z.number(), required: z.boolean() }) },
      ...who,
    },
  }), async (request) => mfaStatus(ctx, (await subject(request, { password: false, enrolment: true })).account));

  app.post('/api/v1/mfa/totp', doc({
    summary: 'Start adding an authenticator app', tags, body: Password,
    description: 'Returns a pending factor: its secret (to type in), the otpauth URL and its QR code as SVG. Confirm it with a code within 15 minutes; starting another replaces it.',
    responses: {
      200: { description: 'Pending.', schema: z.object({ id: z.string(), secret: z.string(), otpauthUrl: z.string(), qrSvg: z.string() }) },
      ...common.invalid, ...who, ...common.limited,
    },
  }), async (request) => {
    const { account } = await subject(request, { password: true, enrolment: true });
    return startTotp(ctx, account);
  });

  app.post<{ Params: { id: string } }>('/api/v1/mfa/totp/:id/verify', doc({
    summary: 'Confirm an authenticator app with a code', tags, body: VerifyTotp,
    responses: {
      200: { description: 'Added; the first factor comes with ten recovery codes.', schema: Added },
      ...common.invalid, 401: err('`mfa_invalid`, `unauthenticated` or `invalid_ticket`.'), 404: err('`not_found`.'),
      409: err('`mfa_enrollment_expired`: confirmed too late or twice.'), ...common.limited,
    },
  }), async (request) => {
    const { id } = parse(IdParam, request.params);
    const body = parse(VerifyTotp, request.body);
    const { account, actor } = await subject(request, { password: false, enrolment: true });
    return confirmTotp(ctx, account, id, body.code, actor, body.label);
  });

  app.post('/api/v1/mfa/webauthn/options', doc({
    summary: 'Options for adding a security key or passkey', tags, body: Password,
    description: 'Pass them to `navigator.credentials.create` (e.g. `startRegistration` of @simplewebauthn/browser), then send the result to POST /api/v1/mfa/webauthn within 5 minutes.',
    responses: { 200: { description: 'WebAuthn creation options (JSON).', schema: z.looseObject({ challenge: z.string() }) }, ...common.invalid, ...who, ...common.limited },
  }), async (request) => {
    const { account } = await subject(request, { password: true, enrolment: true });
    return webauthnRegistration(ctx, account);
  });

  app.post('/api/v1/mfa/webauthn', doc({
    summary: 'Add a security key or passkey', tags, body: AddKey,
    responses: {
      201: { description: 'Added; the first factor comes with ten recovery codes.', schema: Added },
      ...common.invalid, 401: err('`mfa_invalid` (the response did not verify), `unauthenticated` or `invalid_ticket`.'),
      409: err('`factor_exists`: this credential is already registered.'),
    },
  }), async (request, reply) => {
    const body = parse(AddKey, request.body);
    const { account, actor } = await subject(request, { password: false, enrolment: true });
    return reply.status(201).send(await addWebauthn(ctx, account, body.response as never, body.label ?? '', actor));
  });

  app.delete<{ Params: { id: string } }>('/api/v1/mfa/:id', doc({
    summary: 'Remove a factor', tags, body: Password,
    description: 'Removing the last factor also removes the recovery codes.',
    responses: {
      204: 'Removed.', ...common.invalid, ...who, 404: err('`not_found`.'),
      409: err('`mfa_required_by_tenant`: the last factor of an account whose tenant requires one.'), ...common.limited,
    },
  }), async (request, reply) => {
    const { id } = parse(IdParam, request.params);
    const { account, actor } = await subject(request, { password: true, enrolment: false });
    await removeFactor(ctx, account, id, actor);
    return reply.status(204).send();
  });

  app.post('/api/v1/mfa/recovery-codes', doc({
    summary: 'New recovery codes (the old set stops working)', tags, body: Password,
    responses: {
      200: { description: 'Ten codes, shown this once.', schema: z.object({ recoveryCodes: z.array(z.string()) }) },
      ...common.invalid, ...who, 404: err('`not_found`: the account has no factor.'), ...common.limited,
    },
  }), async (request) => {
    const { account, actor } = await subject(request, { password: true, enrolment: false });
    return { recoveryCodes: await renewRecoveryCodes(ctx, account, actor) };
  });
}
