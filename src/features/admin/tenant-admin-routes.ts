// The tenant admin API on the public listener: a session with role admin, inside its own tenant.
import type { FastifyInstance } from 'fastify';
import type { Ctx } from '../../context.ts';
import { requireAdmin } from '../sessions/plugin.ts';
import { tenantById } from '../tenants/store.ts';
import { notFound } from '../../errors.ts';
import { registerUserRoutes } from './user-routes.ts';
import { registerWebhookRoutes } from '../webhooks/routes.ts';

export async function tenantAdminRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  registerUserRoutes(app, ctx, '/api/v1/admin', async (request) => {
    const s = await requireAdmin(ctx, request);
    const tenant = await tenantById(ctx.db, s.tenant.id);
    if (!tenant) throw notFound();
    return { tenant, actor: { type: 'admin', id: s.user.id, ip: request.ip } };
  });
  registerWebhookRoutes(app, ctx, '/api/v1/admin', async (request) => {
    const s = await requireAdmin(ctx, request);
    return { scope: { operator: false, tenantId: s.tenant.id }, actor: { type: 'admin', id: s.user.id, ip: request.ip } };
  });
}
