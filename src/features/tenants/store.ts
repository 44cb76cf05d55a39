import { asc, eq } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import { tenants } from '../../platform/schema.ts';
import { connectionView, storedConnection } from '../sso/connection.ts';
import { settingsView } from './settings.ts';

export type Tenant = typeof tenants.$inferSelect;

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export async function tenantBySlug(db: Db, slug: string): Promise<Tenant | undefined> {
  if (!SLUG.test(slug)) return undefined;
  const [row] = await db.select().from(tenants).where(eq(tenants.slug, slug));
  return row;
}

export async function tenantById(db: Db, id: string): Promise<Tenant | undefined> {
  const [row] = await db.select().from(tenants).where(eq(tenants.id, id));
  return row;
}

export async function listTenants(db: Db): Promise<Tenant[]> {
  return db.select().from(tenants).orderBy(asc(tenants.slug));
}

export const allowsPassword = (t: Tenant) => t.loginMethods.includes('password');

export function tenantView(t: Tenant) {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    loginMethods: t.loginMethods,
    passwordPolicy: t.passwordPolicy,
    google: connectionView(storedConnection(t)),
    ...settingsView(t),
    createdAt: t.createdAt.toISOString(),
  };
}
