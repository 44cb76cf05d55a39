// The bearer tokens identity providers call /scim/v2/{slug} with. A token belongs to one tenant; it
// is shown once, when made, and only its keyed hash is stored (a purpose of its own, so no other
// kind of token can pass for one). Revoking deletes it: the next request with it is a 401.
import { and, desc, eq, isNull, lt, or } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import { notFound } from '../../errors.ts';
import { randomToken } from '../../platform/crypto.ts';
import { scimTokens } from '../../platform/schema.ts';
import { audit, type Actor } from '../audit/audit.ts';
import type { Tenant } from '../tenants/store.ts';

const HASH_PURPOSE = 'scim-token';
/** A token's last use is written when the stored one is older than this: not a write per request. */
export const LAST_USED_GRANULARITY_MS = 5 * 60_000;

export const CreateToken = z.object({ label: z.string().trim().max(200).optional().describe('what it is for, e.g. "Okta production"') });
export const TokenView = z.object({
  id: z.string(), label: z.string(), createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().nullable().describe('to within a few minutes; null = never used'),
});
export type TokenView = z.infer<typeof TokenView>;
type Row = typeof scimTokens.$inferSelect;

const view = (r: Row): TokenView => ({
  id: r.id, label: r.label, createdAt: r.createdAt.toISOString(), lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
});

/** `scim_` + 32 random bytes: the prefix lets secret scanners and people tell what it is. */
const newToken = () => `scim_${randomToken(32)}`;

export async function listTokens(ctx: Pick<Ctx, 'db'>, tenant: Tenant): Promise<TokenView[]> {
  const rows = await ctx.db.select().from(scimTokens).where(eq(scimTokens.tenantId, tenant.id)).orderBy(desc(scimTokens.createdAt));
  return rows.map(view);
}

export async function createToken(ctx: Pick<Ctx, 'db' | 'secrets' | 'clock'>, tenant: Tenant, input: z.infer<typeof CreateToken>, actor: Actor): Promise<TokenView & { token: string }> {
  const token = newToken();
  const now = ctx.clock.now();
  const row = await ctx.db.transaction(async (tx) => {
    const [created] = await tx.insert(scimTokens).values({
      tenantId: tenant.id, label: input.label ?? '', tokenHash: ctx.secrets.hash(HASH_PURPOSE, token), createdAt: now,
    }).returning();
    await audit(tx, actor, now, { type: 'scim_token_created', tenantId: tenant.id, data: { tokenId: created!.id, label: created!.label } });
    return created!;
  });
  return { ...view(row), token };
}

export async function revokeToken(ctx: Pick<Ctx, 'db' | 'clock'>, tenant: Tenant, id: string, actor: Actor): Promise<void> {
  if (!z.uuid().safeParse(id).success) throw notFound('No such SCIM token.');
  await ctx.db.transaction(async (tx) => {
    // Another tenant's id deletes nothing and answers like an unknown one.
    const [gone] = await tx.delete(scimTokens).where(and(eq(scimTokens.id, id), eq(scimTokens.tenantId, tenant.id))).returning();
    if (!gone) throw notFound('No such SCIM token.');
    await audit(tx, actor, ctx.clock.now(), { type: 'scim_token_revoked', tenantId: tenant.id, data: { tokenId: id, label: gone.label } });
  });
}

/**
 * The token's id when `token` is a live token of this tenant, else null (unknown, revoked, or
 * another tenant's: the caller answers each the same). Notes the use, at most every few minutes.
 */
export async function authenticate(ctx: Pick<Ctx, 'db' | 'secrets' | 'clock'>, tenantId: string, token: string): Promise<string | null> {
  const [row] = await ctx.db.select().from(scimTokens).where(eq(scimTokens.tokenHash, ctx.secrets.hash(HASH_PURPOSE, token)));
  if (!row || row.tenantId !== tenantId) return null;
  const now = ctx.clock.now();
  const stale = new Date(now.getTime() - LAST_USED_GRANULARITY_MS);
  if (!row.lastUsedAt || row.lastUsedAt < stale) {
    // Several instances may see it stale at once: the condition lets one write win, the rest do nothing.
    await ctx.db.update(scimTokens).set({ lastUsedAt: now })
      .where(and(eq(scimTokens.id, row.id), or(isNull(scimTokens.lastUsedAt), lt(scimTokens.lastUsedAt, stale))));
  }
  return row.id;
}
