// Erasing a person (CONTRACT §11, GDPR art. 17): one transaction that ends every session and app
// token, removes what identifies them, and frees the address for a new account. The audit log keeps
// its lines under the account's id, which nothing links to a person any more (a pseudonym).
//
// This is the one place that knows every table holding a person's data; a new table that stores
// an address, a name, an IP address or a device must be forgotten here too (test/api/staff.test.ts
// searches every table of the database for the erased addresses and name).
import { sql } from 'drizzle-orm';
import { invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { audit, type Actor } from '../audit/audit.ts';
import type { Tenant } from '../tenants/store.ts';
import { getUser, keepAnAdmin } from './accounts.ts';
import { rowsOf } from '../../platform/db.ts';

/** Audit data that may name or describe the person: dropped from their lines. */
const PERSONAL_AUDIT_KEYS = ['email', 'name', 'label', 'reason', 'url', 'emailAtLink', 'subject', 'device'];
/** Audit types whose `from`/`to` are addresses or outside ids, not roles. */
const PERSONAL_FROM_TO = ['email_changed', 'external_id_changed'];

const textArray = (items: string[]) => sql`${`{${items.join(',')}}`}::text[]`;

export async function eraseUser(ctx: Pick<Ctx, 'clock' | 'db' | 'sessions'>, tenant: Tenant, id: string, actor: Actor): Promise<void> {
  const user = await getUser(ctx, tenant, id);
  if (actor.type === 'admin' && actor.id === id) throw invalidRequest('You cannot erase your own account — ask another admin.', { field: 'id' });
  await keepAnAdmin(ctx, tenant, user, actor);
  await ctx.db.transaction(async (tx) => {
    const now = ctx.clock.now();
    // Locked first: a sign-in between here and the row's deletion would leave a session behind.
    await tx.execute(sql`select 1 from users where id = ${id}::uuid for update`);
    // Every address the account had: links and requests made before an email change carry the old one.
    const earlier = rowsOf<{ a: string }>(await tx.execute(sql`select distinct lower(trim(data->>'from')) as a from audit_events
      where user_id = ${id}::uuid and type = 'email_changed' and data ? 'from'`)).map((r) => r.a);
    const emails = [...new Set([user.emailCanonical, ...earlier])];
    // Sessions first: their end reaches the apps (grants revoked, back-channel logout queued) and
    // every instance's cache, as for any other revocation.
    await ctx.sessions.revoke(tx, [id], 'account_erased');
    // The event is queued while the row exists; its payload loses the address below.
    await audit(tx, actor, now, { type: 'user_erased', tenantId: tenant.id, userId: id });

    const ours = sql`email_canonical = any(${textArray(emails)})`;
    const otherAccounts = sql`exists (select 1 from users o where o.email_canonical = x.email_canonical and o.id <> ${id}::uuid)`;
    await tx.execute(sql`delete from sessions where user_id = ${id}::uuid`);
    await tx.execute(sql`delete from lock_tokens where user_id = ${id}::uuid`);
    await tx.execute(sql`delete from sso_identities where user_id = ${id}::uuid`);
    await tx.execute(sql`delete from login_tickets where user_ids ? ${id}::text`);
    // Grants and sessions name the account at the top, interactions inside (session, result.login).
    await tx.execute(sql`delete from oidc_payloads where payload::text like ${`%${id}%`}`);
    // Reset links for this account alone; a link that also covers the address's accounts in other
    // tenants is theirs too and stays (it can no longer reach this one).
    await tx.execute(sql`delete from reset_tokens where ${ours} and tenant_ids = ${JSON.stringify([tenant.id])}::jsonb`);
    await tx.execute(sql`delete from unlock_tokens x where ${ours} and not ${otherAccounts}`);
    await tx.execute(sql`delete from reset_requests x where ${ours} and not ${otherAccounts}`);
    // Mail to the person (sent or not) holds the address and its text; HTTP rows (webhooks,
    // back-channel logout) carry only the id and stay, so the platform hears of the erasure.
    await tx.execute(sql`delete from outbox where user_id = ${id}::uuid and channel = 'mail'`);
    await tx.execute(sql`update webhook_events
      set payload = jsonb_set(payload, '{data}', (payload->'data') - 'email' - 'name' - 'previousEmail')
      where user_id = ${id}::uuid`);
    await tx.execute(sql`update audit_events
      set ip = null,
        data = data - ${textArray(PERSONAL_AUDIT_KEYS)}
          - (case when type = any(${textArray(PERSONAL_FROM_TO)}) then array['from', 'to'] else array[]::text[] end)
      where user_id = ${id}::uuid`);
    await tx.execute(sql`update audit_events set ip = null where actor_id = ${id}::text`);
    await tx.execute(sql`delete from users where id = ${id}::uuid and tenant_id = ${tenant.id}::uuid`);
  });
}
