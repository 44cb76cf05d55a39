import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../platform/context.ts';
import { parse } from '../../platform/http.ts';
import { requireSession } from '../sessions/plugin.ts';
import { changePassword } from './change.ts';

const ChangeBody = z.object({
  currentPassword: z.string({ error: 'must be a string' }).max(4096),
  newPassword: z.string({ error: 'must be a string' }).max(4096),
});

export async function passwordChangeRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.post('/api/v1/password/change', async (request) => {
    const session = await requireSession(ctx, request);
    const body = parse(ChangeBody, request.body);
    await changePassword(ctx, session, { ...body, ip: request.ip });
    return { status: 'changed', message: 'Password updated; other devices were signed out.' };
  });
}
