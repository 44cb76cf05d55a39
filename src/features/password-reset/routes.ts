import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { deviceCookieOf } from '../abuse/devices.ts';
import { parseEmail } from '../accounts/email.ts';
import { SLUG } from '../tenants/store.ts';
import { AnswerFields, answerFrom } from '../mfa/answer.ts';
import { completeReset, inspectReset, requestReset, type ResetFactor, type ResetProof } from './flow.ts';

const ACCEPTED = {
  status: 'accepted',
  message: 'If an account uses this address, an email with a reset link and code is on its way. It can take a few minutes; check your spam folder too.',
} as const;

const ForgotBody = z.object({
  email: z.string({ error: 'must be one email address' }).max(254, 'is too long'),
  tenant: z.string().regex(SLUG, 'is not a tenant slug').optional(),
  captcha: z.string({ error: 'must be the captcha answer as a string' }).max(8192, 'is too long').optional(),
});

const Proof = z.object({
  token: z.string().max(200).optional(),
  email: z.string().max(254).optional(),
  code: z.string().max(20).optional(),
});

const FactorAnswer = z.object({ tenant: z.string().regex(SLUG), ...AnswerFields });
const ResetBody = Proof.extend({
  password: z.string({ error: 'must be a string' }).max(4096, 'is too long'),
  tenants: z.array(z.string().regex(SLUG)).max(100).optional(),
  mfa: z.union([FactorAnswer, z.array(FactorAnswer).max(100)]).optional()
    .describe('The second factor of each chosen account that has one: `{tenant, method, code | response}` (one, or a list).'),
});

/** The factor answers a reset body carries. */
function factorsOf(mfa: z.infer<typeof ResetBody>['mfa']): ResetFactor[] {
  return [mfa ?? []].flat().map((f, i) => {
    const answer = answerFrom(f, `mfa.${i}.`);
    if (!answer) throw invalidRequest(`mfa.${i}.method: say which factor answers (totp, webauthn or recovery_code).`, { field: `mfa.${i}.method` });
    return { ...answer, tenant: f.tenant };
  });
}

const Accepted = z.object({ status: z.literal('accepted'), message: z.string() });
const Inspected = z.object({
  expiresAt: z.iso.datetime(), email: z.string(),
  accounts: z.array(z.object({
    tenant: z.string(), tenantName: z.string(),
    mfa: z.object({ methods: z.array(z.enum(['totp', 'webauthn', 'recovery_code'])), webauthn: z.looseObject({}).optional() }).nullable()
      .describe('The second factor the reset of this account asks for (with WebAuthn request options for its security keys), or null.'),
  })),
});
const tokenErrors = {
  404: err('`token_invalid`: no such link, or a wrong (or burned) code.'),
  410: err('`token_expired`, `token_used` or `token_superseded`, with `at` (and `reason` when the account changed, or `newer`: `email` | `link` when a newer link replaced it).'),
};

function proofOf(body: z.infer<typeof Proof>): ResetProof {
  if (body.token !== undefined) return { token: body.token };
  if (body.email !== undefined && body.code !== undefined) return { email: body.email, code: body.code };
  throw invalidRequest('Send either the token from the link, or the email address and the code.');
}

export async function passwordResetRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/password/forgot', doc({
    summary: 'Ask for a reset email', tags: ['password reset'], auth: 'none', body: ForgotBody,
    description: 'Always the same 202 (status, body, headers, timing) whether the address exists, is disabled, SSO-only or unknown.',
    responses: {
      202: { description: 'Accepted.', schema: Accepted }, ...common.invalid,
      428: err('`captcha_required`, with `provider`, `challenge` and `reason`.'), ...common.limited,
      503: err('`captcha_unavailable` (third-party captcha down and CAPTCHA_FALLBACK=block) or `unavailable`.'),
    },
  }), async (request, reply) => {
    const body = parse(ForgotBody, request.body);
    const email = parseEmail(body.email);
    if (!email) throw invalidRequest('email: must be exactly one email address.', { field: 'email' });
    await requestReset(ctx, { email, tenant: body.tenant, ip: request.ip, captcha: body.captcha, device: deviceCookieOf(request) });
    return reply.status(202).send(ACCEPTED);
  });

  app.post('/api/v1/password/reset/inspect', doc({
    summary: 'Check a link or code without using it', tags: ['password reset'], auth: 'none', body: Proof,
    description: 'Send `{token}` or `{email, code}`. Never consumes anything.',
    responses: { 200: { description: 'Live: what it would reset.', schema: Inspected }, ...common.invalid, ...tokenErrors, ...common.limited },
  }), async (request) => {
    const body = parse(Proof, request.body);
    return inspectReset(ctx, proofOf(body), request.ip);
  });

  app.post('/api/v1/password/reset', doc({
    summary: 'Set a new password with a link or code', tags: ['password reset'], auth: 'none', body: ResetBody,
    description: 'Consumes the token, signs out every session of the updated accounts and sends a "password changed" notice. Never signs in. A chosen account with a second factor needs it in `mfa`; without it the answer is 403 and the link stays valid.',
    responses: {
      200: { description: 'Updated.', schema: z.object({ updated: z.array(z.string()) }) }, ...common.invalid, ...tokenErrors,
      401: err('`mfa_invalid`: a second factor was not accepted (counted against the account; the link stays valid).'),
      403: err('`mfa_required`, with `accounts: [{tenant, methods}]`: prove their second factors (or choose fewer accounts).'),
      422: err('`password_policy`, with `failed` (rule ids).'), ...common.limited,
    },
  }), async (request) => {
    const body = parse(ResetBody, request.body);
    return completeReset(ctx, proofOf(body), body.password, body.tenants, request.ip, factorsOf(body.mfa));
  });
}
