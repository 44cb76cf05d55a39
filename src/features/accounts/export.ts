// The users of a tenant as CSV, for people and spreadsheets: addresses, not ids. The API's
// download and the console's "Download CSV" stream it; the list's filters narrow it.
import { csvLine } from '../../platform/csv.ts';
import type { Ctx } from '../../context.ts';
import { mfaSummaries } from '../mfa/store.ts';
import { usersWithIdentity } from '../sso/store.ts';
import type { Tenant } from '../tenants/store.ts';
import { userView } from './accounts.ts';
import { usersPage, type UserFilter } from './store.ts';

export const USER_CSV_COLUMNS = ['email', 'name', 'role', 'status', 'mfa', 'signInMethods', 'lastLoginAt', 'createdAt'] as const;
const PAGE = 1000;

/** The download's file name: users-acme-2025-06-01.csv. */
export const usersCsvName = (tenant: Tenant, now: Date) => `users-${tenant.slug}-${now.toISOString().slice(0, 10)}.csv`;

/**
 * Every user matching `filter`, in email order, as CSV text (the header first): keyset pages of a
 * thousand, three queries each, so an export of any size streams in constant memory. `mfa` lists
 * the kinds of second factor (space-separated; `off` without one), `signInMethods` likewise.
 */
export async function* exportUsersCsv(ctx: Pick<Ctx, 'clock' | 'db'>, tenant: Tenant, filter: Omit<UserFilter, 'after' | 'now'>): AsyncGenerator<string> {
  yield `${USER_CSV_COLUMNS.join(',')}\n`;
  const now = ctx.clock.now(); // one moment for "inactive for N days" across every page
  let after: string | undefined;
  for (;;) {
    const rows = await usersPage(ctx.db, tenant.id, { ...filter, now, after }, PAGE);
    if (rows.length === 0) return;
    const ids = rows.map((u) => u.id);
    const linked = await usersWithIdentity(ctx.db, tenant.id, ids);
    const mfa = await mfaSummaries(ctx.db, ids);
    yield rows.map((u) => {
      const v = userView(u);
      const methods = [...(v.hasPassword ? ['password'] : []), ...(linked.has(u.id) ? ['google'] : [])];
      return `${csvLine([v.email, v.name, v.role, v.status, mfa.get(u.id)?.types.join(' ') || 'off', methods.join(' '), v.lastLoginAt ?? '', v.createdAt])}\n`;
    }).join('');
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.emailCanonical;
  }
}
