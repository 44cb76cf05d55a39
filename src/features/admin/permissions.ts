// Who may do what inside a tenant: the one table every staff door reads (the tenant admin API under
// /api/v1/admin and the console under /admin). A route names its permission in its config
// (`config: { permission: 'users.reset' }`); the door's hook checks it before the handler runs, so
// no handler checks a role itself. A route without a permission is refused (fail closed).
//
// Supervisors run a floor: they help members (reset links, unlock, sign-out, two-step reset) and
// read what happened, but change nothing about who is who and act on members only.
import type { FastifyRequest } from 'fastify';
import { forbidden } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { isUuid } from '../../platform/http.ts';
import { userById, type Role } from '../accounts/store.ts';

const STAFF = ['admin', 'supervisor'] as const;
const ADMIN = ['admin'] as const;

export const PERMISSIONS = {
  'users.read': STAFF,        // the list, a user's page, their deliveries
  'users.reset': STAFF,       // send or copy a reset link
  'users.unlock': STAFF,
  'users.sign-out': STAFF,    // sign out everywhere, end one device
  'users.mfa-reset': STAFF,
  'users.bulk': STAFF,        // each action of a bulk run is checked again (bulkActionPermission)
  'audit.read': STAFF,
  'users.create': ADMIN,
  'users.edit': ADMIN,        // name, email, role, disable and enable
  'users.erase': ADMIN,
  'users.import': ADMIN,
  'users.export': ADMIN,
  'users.unlink': ADMIN,
  'webhooks.manage': ADMIN,
  'scim.manage': ADMIN,
  'settings.manage': ADMIN,
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a staff route needs (permissions.ts); staff doors refuse routes without one. */
    permission?: Permission;
  }
}

/** Whether people with this role may use this permission (members never may). */
export function can(role: string, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly string[]).includes(role);
}

/** Admins and supervisors: the people the console and the tenant admin API let in. */
export const isStaff = (role: string) => (STAFF as readonly string[]).includes(role);

/** Whom this role may act on: admins on anyone of their tenant, supervisors on members only. */
export function mayActOn(role: string, targetRole: string): boolean {
  return role === 'admin' || (role === 'supervisor' && targetRole === 'member');
}

export const SUPERVISORS_ACT_ON_MEMBERS = 'Supervisors act on members only — ask an admin.';

/** The refusal of a permission this role lacks. */
export const notForRole = (role: string) =>
  forbidden(role === 'supervisor' ? 'Supervisors cannot do this — ask an admin of this tenant.' : 'Only administrators of this tenant can do this.');

/** Route options of a staff route: its OpenAPI description (doc()) and the permission it needs. */
export function needs<T extends { config: object }>(permission: Permission, options: T): T {
  return { ...options, config: { ...options.config, permission } };
}

/**
 * What both staff doors (tenant admin API, console) run before each route — on the request line,
 * before any body is read — for a signed-in person of `tenantId`: staff only; the route's
 * permission for their role; and for a route about one user (`:id`), a supervisor only when that
 * user is a member (reading an admin's devices or emails included). An id that is no user of the
 * tenant passes here and is the handler's 404, so ids of other tenants answer as before.
 */
export async function admitStaff(ctx: Pick<Ctx, 'db'>, request: FastifyRequest, role: string, tenantId: string): Promise<void> {
  if (!isStaff(role)) throw forbidden('Only administrators and supervisors of this tenant can do this.');
  const permission = request.routeOptions.config.permission;
  if (!permission) throw forbidden('This route is not open to tenant staff.');
  if (!can(role, permission)) throw notForRole(role);
  const id = (request.params as { id?: unknown } | undefined)?.id;
  if (role !== 'admin' && typeof id === 'string' && permission.startsWith('users.')) {
    const target = isUuid(id) ? await userById(ctx.db, tenantId, id) : undefined;
    if (target && !mayActOn(role, target.role)) throw forbidden(SUPERVISORS_ACT_ON_MEMBERS);
  }
}
