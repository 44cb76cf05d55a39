// The device list (CONTRACT §8): a person's live sessions, ending one of them, signing out
// everywhere else. The JSON API (routes.ts) and the page /settings/sessions both call these; each
// change is one transaction with its audit line.
import { notFound } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { audit } from '../audit/audit.ts';
import type { DeviceSession, SessionInfo } from './sessions.ts';

type Deps = Pick<Ctx, 'clock' | 'db' | 'sessions'>;

/** The signed-in person's live sessions, most recently used first, theirs marked `current`. */
export function myDevices(ctx: Pick<Ctx, 'sessions'>, s: SessionInfo): Promise<DeviceSession[]> {
  return ctx.sessions.list(s.user.id, s.idHash);
}

/**
 * Ends one of the signed-in person's sessions by its public id (404 for anything else: another
 * account's session, an ended one, no id at all). Says whether it was the caller's own.
 */
export async function endDevice(ctx: Deps, s: SessionInfo, id: string, ip: string): Promise<{ current: boolean }> {
  const target = (await myDevices(ctx, s)).find((d) => d.id === id);
  if (!target) throw noSuchSession();
  await ctx.db.transaction(async (tx) => {
    // Ended meanwhile (another tab): the same answer as for an id that was never there.
    if (!(await ctx.sessions.endById(tx, s.user.id, id, 'session_ended'))) throw noSuchSession();
    await audit(tx, { type: 'user', id: s.user.id, ip }, ctx.clock.now(), {
      type: 'session_ended', tenantId: s.tenant.id, userId: s.user.id,
      data: { sessionId: id, device: target.device, current: target.current },
    });
  });
  return { current: target.current };
}

/** Ends every other session of the signed-in person; this one stays. How many ended. */
export async function signOutOtherDevices(ctx: Deps, s: SessionInfo, ip: string): Promise<number> {
  return ctx.db.transaction(async (tx) => {
    const n = await ctx.sessions.revoke(tx, [s.user.id], 'sign_out_everywhere', { keepIdHash: s.idHash });
    await audit(tx, { type: 'user', id: s.user.id, ip }, ctx.clock.now(), {
      type: 'sessions_revoked', tenantId: s.tenant.id, userId: s.user.id, data: { count: n, exceptCurrent: true },
    });
    return n;
  });
}

const noSuchSession = () => notFound('No such session of yours (it may have ended already).');

/** A session in the API's shape. */
export function deviceView(d: DeviceSession) {
  return {
    id: d.id,
    current: d.current,
    createdAt: d.createdAt.toISOString(),
    lastSeenAt: d.lastSeenAt.toISOString(),
    ip: d.ip,
    device: d.device,
    authMethods: d.authMethods,
    ...(d.app ? { app: d.app } : {}),
  };
}
