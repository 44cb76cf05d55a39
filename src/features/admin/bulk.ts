// One action on many users (CONTRACT §11: POST …/users/bulk): a supervisor signing out a whole
// shift, an admin disabling the leavers. Each user goes through the same function as the single
// action — its own transaction, audit line and webhook event — so one failure stops nothing else
// and every result is reported by id. Users are read a batch at a time, and a few actions run at
// once: enough to finish a floor of 2,000 in seconds without taking every database connection.
import { AppError, invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { safeError } from '../../platform/http.ts';
import type { Actor } from '../audit/audit.ts';
import { signOutEverywhere, updateUser, type User } from '../accounts/accounts.ts';
import { usersByIds } from '../accounts/store.ts';
import { resetFactors } from '../mfa/factors.ts';
import type { Tenant } from '../tenants/store.ts';
import { adminReset } from './admin-reset.ts';
import { can, mayActOn, notForRole, SUPERVISORS_ACT_ON_MEMBERS, type Permission } from './permissions.ts';

export const BULK_ACTIONS = ['password-reset', 'disable', 'enable', 'sign-out-everywhere', 'mfa-reset'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];
export const BULK_MAX = 10_000;

/** What each action needs, checked for the caller once before anything runs. */
export const BULK_PERMISSION: Record<BulkAction, Permission> = {
  'password-reset': 'users.reset', disable: 'users.edit', enable: 'users.edit',
  'sign-out-everywhere': 'users.sign-out', 'mfa-reset': 'users.mfa-reset',
};

export interface BulkResult { done: string[]; failed: { id: string; error: string; message: string }[]; }

const BATCH = 100;
const AT_ONCE = 4;

/**
 * Runs `action` for every id, in order of the list. `role` is the caller's in the tenant (the
 * operator acts as an admin). Throws only for what concerns the whole request: a role without the
 * action's permission, a reset of two-step verification without a reason.
 */
export async function runBulk(
  ctx: Ctx, tenant: Tenant, input: { ids: string[]; action: BulkAction; reason?: string }, actor: Actor, role: string,
): Promise<BulkResult> {
  const { action } = input;
  const reason = input.reason?.trim() || undefined;
  if (!can(role, BULK_PERMISSION[action])) throw notForRole(role);
  if (action === 'mfa-reset' && !reason) throw invalidRequest('reason: say why (it goes into the audit log of each user).', { field: 'reason' });

  const ids = [...new Set(input.ids)];
  const result: BulkResult = { done: [], failed: [] };
  const outcome = new Map<string, BulkResult['failed'][number] | true>();
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const found = await usersByIds(ctx.db, tenant.id, batch);
    const queue = batch.slice();
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        outcome.set(id, await one(ctx, tenant, found.get(id), id, action, reason, actor, role));
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
  }
  for (const id of ids) {
    const o = outcome.get(id)!;
    if (o === true) result.done.push(id);
    else result.failed.push(o);
  }
  return result;
}

async function one(
  ctx: Ctx, tenant: Tenant, user: User | undefined, id: string, action: BulkAction, reason: string | undefined, actor: Actor, role: string,
): Promise<BulkResult['failed'][number] | true> {
  if (!user) return { id, error: 'not_found', message: 'No such user in this tenant.' };
  if (!mayActOn(role, user.role)) return { id, error: 'forbidden', message: SUPERVISORS_ACT_ON_MEMBERS };
  try {
    if (action === 'password-reset') await adminReset(ctx, tenant, id, { delivery: 'email', reason }, actor);
    else if (action === 'disable') await updateUser(ctx, tenant, id, { disabled: true }, actor, reason);
    else if (action === 'enable') await updateUser(ctx, tenant, id, { disabled: false }, actor, reason);
    else if (action === 'sign-out-everywhere') await signOutEverywhere(ctx, tenant, id, actor, reason);
    else await resetFactors(ctx, { user, tenant }, reason!, actor);
    return true;
  } catch (err) {
    if (!(err instanceof AppError) || err.status >= 500) {
      ctx.log.error({ err: safeError(err), userId: id, action }, 'bulk action failed for one user'); // a query error holds its parameters
      return { id, error: 'internal', message: 'Something went wrong on our side; try this user again.' };
    }
    const why = typeof err.extra.reason === 'string' ? err.extra.reason : err.code;
    return { id, error: why, message: err.message };
  }
}
