// /api/v1/sessions (CONTRACT §8): the signed-in person's devices, ending one, signing out
// everywhere else; and the sessions of a user for the tenant's admins. Signing a user out
// everywhere is a user route of both admin doors (admin/user-routes.ts).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { getUser } from '../accounts/accounts.ts';
import { tenantById } from '../tenants/store.ts';
import { deviceView, endDevice, myDevices, signOutOtherDevices } from './device-list.ts';
import { clearSessionCookie, requireSession } from './plugin.ts';
import { needs } from '../admin/permissions.ts';

const DeviceView = z.object({
  id: z.string().describe('The session\'s public id (never its token or the token\'s hash).'),
  current: z.boolean().describe('The session of this request.'),
  createdAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime().describe('When it was last used, to within five minutes (the current one: now).'),
  ip: z.string().nullable().describe('The address it signed in from. No location: Keyturn has no GeoIP database.'),
  device: z.string().describe('A short label from the browser\'s User-Agent, e.g. "Chrome on Windows"; "Unknown device" when it says nothing usable.'),
  authMethods: z.array(z.string()).describe('How the person proved it was them (RFC 8176 amr: pwd, otp, hwk, google, mfa).'),
  app: z.object({ clientId: z.string(), name: z.string() }).optional().describe('The app (OpenID Connect client) the session belongs to; absent for a browser session.'),
});
const DeviceList = z.object({ sessions: z.array(DeviceView).describe('Live sessions, most recently used first.') });
const tags = ['sessions'];

export async function sessionRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.get('/api/v1/sessions', doc({
    summary: 'The signed-in account\'s live sessions (its devices)', tags,
    responses: { 200: { description: 'Most recently used first; `current` marks this one.', schema: DeviceList }, ...common.signIn },
  }), async (request) => {
    const s = await requireSession(ctx, request);
    return { sessions: (await myDevices(ctx, s)).map(deviceView) };
  });

  app.delete<{ Params: { id: string } }>('/api/v1/sessions/:id', doc({
    summary: 'End one of the account\'s sessions', tags,
    description: 'Its token stops working with the next request, on every instance. Ending the current session signs this client out (the cookie is cleared).',
    responses: {
      204: 'Ended.', ...common.signIn, ...common.csrf,
      404: err('`not_found`: not a live session of this account (another account\'s id, an ended session, not an id).'),
    },
  }), async (request, reply) => {
    const s = await requireSession(ctx, request);
    const { current } = await endDevice(ctx, s, request.params.id, request.ip);
    if (current) clearSessionCookie(ctx, reply);
    return reply.status(204).send();
  });

  app.post('/api/v1/sessions/revoke-others', doc({
    summary: 'Sign out everywhere else: end every session of the account but this one', tags,
    responses: {
      200: { description: 'How many sessions were ended.', schema: z.object({ revoked: z.number().int() }) },
      ...common.signIn, ...common.csrf,
    },
  }), async (request) => {
    const s = await requireSession(ctx, request);
    return { revoked: await signOutOtherDevices(ctx, s, request.ip) };
  });
}

/** A user's sessions for the tenant's staff (registered inside the tenant admin door, which admits). */
export function registerStaffSessionRoutes(app: FastifyInstance, ctx: Ctx): void {
  app.get<{ Params: { id: string } }>('/api/v1/admin/users/:id/sessions', needs('users.read', doc({
    summary: 'A user\'s live sessions (tenant admins)', tags: ['users'],
    description: 'The same list the user sees (`current` is true only for the admin\'s own session). POST /api/v1/admin/users/{id}/sign-out-everywhere ends them all.',
    responses: {
      200: { description: 'Most recently used first.', schema: DeviceList }, ...common.signIn,
      403: err('`forbidden`: not an administrator or supervisor of this tenant.'),
      404: err('`not_found`: no such user in this tenant (another tenant\'s ids answer the same).'),
    },
  })), async (request) => {
    const s = (await request.session())!;
    const tenant = await tenantById(ctx.db, s.tenant.id);
    if (!tenant) throw notFound();
    const user = await getUser(ctx, tenant, request.params.id);
    return { sessions: (await ctx.sessions.list(user.id, s.idHash)).map(deviceView) };
  });
}
