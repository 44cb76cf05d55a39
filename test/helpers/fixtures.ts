// The accounts tests start from, made through the operator API: one account (in a tenant of its
// own unless told which), one address with accounts in two tenants, and a tenant with an admin and
// a member, both signed in.
import { expect } from 'vitest';
import { unique, type Session, type TestApp } from './app.ts';

/** What can make tenants and users: the API test app, and the live app of the browser suites. */
export interface Seeder {
  tenant(slug?: string, extra?: Record<string, unknown>): Promise<{ slug: string; name?: string }>;
  user(slug: string, email: string, opts?: { password?: string | null; role?: string; name?: string }): Promise<{ id: string }>;
}

export interface AccountOptions {
  /** The start of the address, made unique: `${unique(prefix)}@example.com` (default 'u'). */
  prefix?: string;
  /** An existing tenant to put the account in; otherwise a new tenant of its own. */
  slug?: string;
  /** Settings of that new tenant (password policy, login methods …). */
  tenant?: Record<string, unknown>;
  role?: string;
  name?: string;
  /** Default STRONG; null for an account without a password. */
  password?: string | null;
}

/**
 * An account with a password (STRONG unless told otherwise): its tenant's slug (and name, when the
 * tenant is made here), its address and its id.
 */
export async function account(t: Seeder, opts: AccountOptions = {}): Promise<{ slug: string; tenantName?: string; email: string; id: string }> {
  const tenant = opts.slug ? { slug: opts.slug } : await t.tenant(undefined, opts.tenant);
  const email = `${unique(opts.prefix ?? 'u')}@example.com`;
  const { id } = await t.user(tenant.slug, email, { password: opts.password, role: opts.role, name: opts.name });
  return { slug: tenant.slug, tenantName: tenant.name, email, id };
}

/** One address (`${unique(prefix)}@example.com`) with an account, password STRONG, in each of two new tenants. */
export async function oneAddressTwoTenants(t: Seeder, opts: { prefix?: string; names?: [string, string] } = {}) {
  const [a, b] = [
    await t.tenant(undefined, opts.names ? { name: opts.names[0] } : {}),
    await t.tenant(undefined, opts.names ? { name: opts.names[1] } : {}),
  ];
  const email = `${unique(opts.prefix ?? 'u')}@example.com`;
  await t.user(a.slug, email);
  await t.user(b.slug, email);
  return { a, b, email };
}

/** A tenant with an admin (Ada Admin) and a member (Max Member), each signed in. */
export async function tenantWithAdmin(t: TestApp, extra: Record<string, unknown> = {}): Promise<{
  slug: string; admin: { id: string }; member: { id: string };
  adminEmail: string; memberEmail: string; adminSession: Session; memberSession: Session;
}> {
  const { slug } = await t.tenant(undefined, extra);
  const adminEmail = `${unique('admin')}@example.com`;
  const memberEmail = `${unique('member')}@example.com`;
  const admin = await t.user(slug, adminEmail, { role: 'admin', name: 'Ada Admin' });
  const member = await t.user(slug, memberEmail, { name: 'Max Member' });
  const adminSession = await t.login(adminEmail);
  const memberSession = await t.login(memberEmail);
  expect(adminSession.status).toBe(200);
  return { slug, admin, member, adminEmail, memberEmail, adminSession, memberSession };
}
