// Linked identities as operators and tenant admins see and remove them.
import { notFound } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { getUser } from '../accounts/accounts.ts';
import type { Tenant } from '../tenants/store.ts';
import { deleteIdentity, identitiesOfUser, identityView } from './store.ts';

export async function linkedIdentities(ctx: Pick<Ctx, 'db'>, tenant: Tenant, userId: string) {
  return (await identitiesOfUser(ctx.db, tenant.id, userId)).map(identityView);
}

/**
 * Unlinks (audited). Sessions the identity started end with it; the next SSO sign-in links again
 * by verified email, which is how an admin moves an account to a new IdP identity.
 */
export async function unlinkIdentity(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, tenant: Tenant, userId: string, identityId: string, actor: Actor): Promise<void> {
  await getUser(ctx, tenant, userId); // another tenant's user answers 404
  if (!/^[0-9a-f-]{36}$/i.test(identityId)) throw notFound('No such linked identity.');
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    const gone = await deleteIdentity(tx, tenant.id, userId, identityId);
    if (!gone) throw notFound('No such linked identity.');
    // Sessions that the unlinked identity started end with the link.
    const revoked = await ctx.sessions.revoke(tx, [userId], 'identity_unlinked', { authMethod: 'google' });
    await audit(tx, actor, now, {
      type: 'identity_unlinked', tenantId: tenant.id, userId,
      data: { issuer: gone.issuer, subject: gone.subject, emailAtLink: gone.emailAtLink, sessionsRevoked: revoked },
    });
  });
}
