import { conflict, invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { tenants } from '../../platform/schema.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { SLUG, type Tenant } from './store.ts';

export interface TenantInput {
  slug: string;
  name: string;
  loginMethods?: ('password' | 'google')[];
  passwordPolicy?: Record<string, unknown>;
  google?: { issuer: string; clientId: string; clientSecret: string; hostedDomain?: string };
}

export async function createTenant(ctx: Ctx, input: TenantInput, actor: Actor): Promise<Tenant> {
  if (!SLUG.test(input.slug)) throw invalidRequest('slug: use lower-case letters, digits and dashes (at most 63).', { field: 'slug' });
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(tenants)
      .values({
        slug: input.slug,
        name: input.name,
        loginMethods: input.loginMethods ?? ['password'],
        passwordPolicy: input.passwordPolicy ?? {},
        settings: input.google ? { google: input.google } : {},
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw conflict('slug_taken', `A tenant with the slug "${input.slug}" already exists.`);
    await audit(tx, actor, now, { type: 'tenant_created', tenantId: row.id, data: { slug: row.slug } });
    return row;
  });
}
