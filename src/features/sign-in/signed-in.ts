// The last steps of every password sign-in (the password just verified, or a tenant-choice ticket
// that stands for it): the password's age, then the session, and this browser remembered as one
// that signed in to the address.
import { passwordExpired } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { Devices } from '../abuse/devices.ts';
import type { Account } from '../accounts/store.ts';
import { passwordAgeLimit } from '../password-policy/history.ts';

export interface SignedIn {
  kind: 'signed-in'; token: string; expiresAt: Date;
  user: { id: string; email: string; name: string; role: string }; tenant: { slug: string; name: string };
  /** The device cookie to set: this browser is now trusted for the address (abuse/devices.ts). */
  device: string;
}

export interface Client { email: string; ip: string; userAgent?: string; device?: string; }

export async function completeSignIn(ctx: Pick<Ctx, 'clock' | 'db' | 'secrets' | 'sessions'>, { user: u, tenant: t }: Account, client: Client, auditData: Record<string, unknown>): Promise<SignedIn> {
  // Only someone who proved the password learns that it expired (tenants that set a maximum age).
  const maxAgeDays = passwordAgeLimit(t);
  if (maxAgeDays !== null && (u.passwordChangedAt ?? u.createdAt).getTime() < ctx.clock.now().getTime() - maxAgeDays * 86_400_000) {
    throw passwordExpired(maxAgeDays);
  }
  const session = await ctx.sessions.create(ctx.db, {
    userId: u.id, tenantId: t.id, authMethod: 'password', ip: client.ip, userAgent: client.userAgent, auditData,
  });
  return {
    kind: 'signed-in',
    token: session.token,
    expiresAt: session.expiresAt,
    user: { id: u.id, email: u.email, name: u.name, role: u.role },
    tenant: { slug: t.slug, name: t.name },
    device: new Devices(ctx.secrets).remember(client.device, client.email),
  };
}
