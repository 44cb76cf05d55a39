// The tenant admin API on the public listener: a session of an admin or supervisor, inside its own
// tenant. One hook admits every route of this context (permissions.ts): no handler checks a role.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { notFound, unauthenticated } from '../../errors.ts';
import { requireSession } from '../sessions/plugin.ts';
import { registerStaffSessionRoutes } from '../sessions/routes.ts';
import { tenantById } from '../tenants/store.ts';
import { registerWebhookRoutes } from '../webhooks/routes.ts';
import { registerScimTokenRoutes } from '../scim/token-routes.ts';
import type { Actor } from '../audit/audit.ts';
import { admitStaff } from './permissions.ts';
import { registerUserRoutes } from './user-routes.ts';

const staffActor = (request: FastifyRequest, id: string): Actor => ({ type: 'admin', id, ip: request.ip });

export async function tenantAdminRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  // Who may come in is known from the request line and the cookie: decided before any body is
  // read, so a stranger cannot make the server parse a large import. The CSRF token may be in the body.
  app.addHook('onRequest', async (request) => {
    const s = await request.session();
    if (!s) throw unauthenticated();
    await admitStaff(ctx, request, s.user.role, s.tenant.id);
  });
  app.addHook('preHandler', async (request) => { await requireSession(ctx, request); });
  /** The caller as the hook admitted them (a session is cached per request). */
  const caller = async (request: FastifyRequest) => (await request.session())!;

  registerUserRoutes(app, ctx, '/api/v1/admin', async (request) => {
    const s = await caller(request);
    const tenant = await tenantById(ctx.db, s.tenant.id);
    if (!tenant) throw notFound();
    return { tenant, actor: staffActor(request, s.user.id), role: s.user.role };
  });
  registerWebhookRoutes(app, ctx, '/api/v1/admin', async (request) => {
    const s = await caller(request);
    return { scope: { operator: false, tenantId: s.tenant.id }, actor: staffActor(request, s.user.id) };
  });
  registerScimTokenRoutes(app, ctx, '/api/v1/admin', async (request) => {
    const s = await caller(request);
    const tenant = await tenantById(ctx.db, s.tenant.id);
    if (!tenant) throw notFound();
    return { tenant, actor: staffActor(request, s.user.id) };
  });
  registerStaffSessionRoutes(app, ctx);
}
