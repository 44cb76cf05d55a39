// Server-only policy rules that need the account's past (policy.ts stays isomorphic):
//   history      — not one of the last N passwords (rule id `not_reused`); default 5, 0 = off, at most 24
//   maxAgeDays   — a password older than this must be replaced at the next sign-in; off by default
// Both are read from the tenant's passwordPolicy JSON, beside the isomorphic settings.
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Ctx } from '../../context.ts';
import type { Db } from '../../platform/db.ts';
import { passwordHistory } from '../../platform/schema.ts';
import type { Tenant } from '../tenants/store.ts';

export const DEFAULT_HISTORY = 5;
export const MAX_HISTORY = 24;

type WithPolicy = Pick<Tenant, 'passwordPolicy'>;

const setting = (tenant: WithPolicy, key: string): unknown =>
  tenant.passwordPolicy && typeof tenant.passwordPolicy === 'object' ? (tenant.passwordPolicy as Record<string, unknown>)[key] : undefined;

/** How many recent passwords (the current one included) a new one must differ from. */
export function historyDepth(tenant: WithPolicy): number {
  const v = setting(tenant, 'history');
  if (typeof v !== 'number' || !Number.isFinite(v)) return DEFAULT_HISTORY;
  return Math.min(MAX_HISTORY, Math.max(0, Math.trunc(v)));
}

/** Maximum password age in days, or null when the tenant set none (the default, per NIST SP 800-63B). */
export function passwordAgeLimit(tenant: WithPolicy): number | null {
  const v = setting(tenant, 'maxAgeDays');
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.trunc(v) : null;
}

/** True when `password` is the account's current password or one of its last ones. */
export async function reusesRecentPassword(
  ctx: Pick<Ctx, 'db' | 'hasher'>, password: string, user: { id: string; passwordHash: string | null }, depth: number,
): Promise<boolean> {
  if (depth <= 0) return false;
  const rows = await ctx.db
    .select({ hash: passwordHistory.passwordHash })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, user.id))
    .orderBy(desc(passwordHistory.id))
    .limit(depth);
  const hashes = [...new Set([user.passwordHash, ...rows.map((r) => r.hash)].filter((h): h is string => !!h))].slice(0, depth);
  // One at a time and stop at the first match: each check is a full Argon2 verification.
  for (const hash of hashes) if (await ctx.hasher.verify(hash, password)) return true;
  return false;
}

/** Remembers a newly set password and forgets the ones beyond the tenant's depth. Runs in the setting transaction. */
export async function recordPassword(
  tx: Db, input: { userId: string; tenant: WithPolicy; passwordHash: string; at: Date },
): Promise<void> {
  const depth = historyDepth(input.tenant);
  if (depth <= 0) return;
  const [row] = await tx
    .insert(passwordHistory)
    .values({ userId: input.userId, passwordHash: input.passwordHash, createdAt: input.at })
    .returning({ id: passwordHistory.id });
  const [oldestKept] = await tx
    .select({ id: passwordHistory.id })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, input.userId))
    .orderBy(desc(passwordHistory.id))
    .offset(depth - 1)
    .limit(1);
  if (row && oldestKept) await tx.delete(passwordHistory).where(and(eq(passwordHistory.userId, input.userId), lt(passwordHistory.id, oldestKept.id)));
}
