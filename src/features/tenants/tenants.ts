import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import { invalidRequest, slugTaken } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { tenants } from '../../platform/schema.ts';
import { audit, type Actor } from '../audit/audit.ts';
import { checkLoginMethods, mergeConnection, storedConnection, type ConnectionPatch } from '../sso/connection.ts';
import { applySettingsPatch, type MfaRequirement, type SettingsPatchInput } from './settings.ts';
import { SLUG, type Tenant } from './store.ts';

export interface TenantInput {
  slug: string;
  name: string;
  loginMethods?: ('password' | 'google')[];
  passwordPolicy?: Record<string, unknown>;
  google?: { issuer: string; clientId: string; clientSecret: string; hostedDomain?: string };
  mfa?: MfaRequirement | null;
  trustIdpMfa?: boolean | null;
  brand?: SettingsPatchInput['brand'];
  /** @deprecated the old name of `brand`. */
  branding?: SettingsPatchInput['branding'];
}

export async function createTenant(ctx: Pick<Ctx, 'clock' | 'config' | 'db'>, input: TenantInput, actor: Actor): Promise<Tenant> {
  if (!SLUG.test(input.slug)) throw invalidRequest('slug: use lower-case letters, digits and dashes (at most 63).', { field: 'slug' });
  // A connection given without login methods turns Google sign-in on beside passwords.
  const loginMethods = input.loginMethods ?? (input.google ? ['password', 'google'] : ['password']);
  checkLoginMethods(loginMethods, input.google);
  const { mfa, trustIdpMfa, brand, branding } = input;
  const settings = applySettingsPatch({}, { mfa, trustIdpMfa, brand, branding }, ctx.config.publicUrl);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(tenants)
      .values({
        slug: input.slug,
        name: input.name,
        loginMethods,
        passwordPolicy: input.passwordPolicy ?? {},
        settings: {
          ...settings,
          ...(input.google ? { google: input.google } : {}),
        },
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw slugTaken(input.slug);
    await audit(tx, actor, now, { type: 'tenant_created', tenantId: row.id, data: { slug: row.slug } });
    return row;
  });
}

export interface TenantPatch extends SettingsPatchInput {
  name?: string;
  loginMethods?: ('password' | 'google')[];
  passwordPolicy?: Record<string, unknown>;
  /** Merged into the stored connection; null removes it. */
  google?: z.infer<typeof ConnectionPatch> | null;
}

/**
 * Settings of a tenant (operator API): name, login methods, password policy, Google connection,
 * reset lifetimes, sender, brand. Audited with the names of what changed, never the client secret.
 */
export async function updateTenant(ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'sessions'>, tenant: Tenant, patch: TenantPatch, actor: Actor): Promise<Tenant> {
  const google = patch.google === undefined ? storedConnection(tenant) : mergeConnection(storedConnection(tenant), patch.google);
  const loginMethods = patch.loginMethods ?? tenant.loginMethods;
  checkLoginMethods(loginMethods, google);
  const { google: _old, ...rest } = tenant.settings;
  const otherSettings = applySettingsPatch(rest, patch, ctx.config.publicUrl);
  const now = ctx.clock.now();
  return ctx.db.transaction(async (tx) => {
    if (patch.name !== undefined && patch.name !== tenant.name) ctx.sessions.tenantChanged(tx); // sessions show it
    const [row] = await tx
      .update(tenants)
      .set({
        name: patch.name ?? tenant.name,
        loginMethods,
        passwordPolicy: patch.passwordPolicy ?? tenant.passwordPolicy,
        settings: google ? { ...otherSettings, google } : otherSettings,
      })
      .where(eq(tenants.id, tenant.id))
      .returning();
    await audit(tx, actor, now, {
      type: 'tenant_updated', tenantId: tenant.id,
      data: { changed: Object.keys(patch).filter((k) => patch[k as keyof TenantPatch] !== undefined), loginMethods },
    });
    return row!;
  });
}
