import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { parse } from '../../platform/http.ts';
import { parseEmail } from '../accounts/email.ts';
import { SLUG } from '../tenants/store.ts';
import { completeReset, inspectReset, requestReset, type ResetProof } from './flow.ts';

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

const ResetBody = Proof.extend({
  password: z.string({ error: 'must be a string' }).max(4096, 'is too long'),
  tenants: z.array(z.string().regex(SLUG)).max(100).optional(),
});

function proofOf(body: z.infer<typeof Proof>): ResetProof {
  if (body.token !== undefined) return { token: body.token };
  if (body.email !== undefined && body.code !== undefined) return { email: body.email, code: body.code };
  throw invalidRequest('Send either the token from the link, or the email address and the code.');
}

export async function passwordResetRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/password/forgot', async (request, reply) => {
    const body = parse(ForgotBody, request.body);
    const email = parseEmail(body.email);
    if (!email) throw invalidRequest('email: must be exactly one email address.', { field: 'email' });
    await requestReset(ctx, { email, tenant: body.tenant, ip: request.ip, captcha: body.captcha });
    return reply.status(202).send(ACCEPTED);
  });

  app.post('/api/v1/password/reset/inspect', async (request) => {
    const body = parse(Proof, request.body);
    return inspectReset(ctx, proofOf(body), request.ip);
  });

  app.post('/api/v1/password/reset', async (request) => {
    const body = parse(ResetBody, request.body);
    return completeReset(ctx, proofOf(body), body.password, body.tenants, request.ip);
  });
}
