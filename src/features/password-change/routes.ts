import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { requireSession } from '../sessions/plugin.ts';
import { changePassword } from './change.ts';

const ChangeBody = z.object({
  currentPassword: z.string({ error: 'must be a string' }).max(4096),
  newPassword: z.string({ error: 'must be a string' }).max(4096),
});

export async function passwordChangeRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/password/change', doc({
    summary: 'Change the password of the signed-in account', tags: ['password change'], body: ChangeBody,
    description: 'Signs out the account\'s other sessions and keeps this one.',
    responses: {
      200: { description: 'Changed.', schema: z.object({ status: z.literal('changed'), message: z.string() }) },
      ...common.invalid, ...common.signIn, 403: err('`wrong_password` or `csrf_failed`.'),
      422: err('`password_policy`, with `failed` (rule ids).'), ...common.limited,
    },
  }), async (request) => {
    const session = await requireSession(ctx, request);
    const body = parse(ChangeBody, request.body);
    await changePassword(ctx, session, { ...body, ip: request.ip });
    return { status: 'changed', message: 'Password updated; other devices were signed out.' };
  });
}
