// The tenant choice. When a password is right in several tenants, signIn (sign-in.ts) answers
// choose-tenant with a ticket: a random, single-use, five-minute proof that this address's password
// was verified for those accounts. Only its keyed hash is stored.
//   - The JSON API repeats the call with the password, the tenant and the ticket (CONTRACT §4).
//   - The hosted chooser page must never carry the password back into the HTML, so it finishes
//     with the ticket alone: signInWithTicket (email + ticket + tenant, no password).
// A ticket signs in only to an account it was issued for that is still as it was: enabled, not
// locked, password sign-in on, and its password unchanged since the ticket was issued.
import { and, eq, gt, inArray, isNull } from 'drizzle-orm';
import { AppError, passwordExpired } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { randomToken } from '../../platform/crypto.ts';
import { loginTickets, tenants, users } from '../../platform/schema.ts';
import { Devices } from '../abuse/devices.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { passwordAgeLimit } from '../password-policy/history.ts';
import { createSession } from '../sessions/sessions.ts';
import { allowsPassword } from '../tenants/store.ts';

export const TICKET_TTL_MS = 5 * 60_000;

export const invalidTicket = () => new AppError(401, 'invalid_ticket', 'The tenant choice expired — sign in again.');

/** A new ticket for the accounts whose password was just verified. */
export async function issueTicket(ctx: Ctx, email: string, userIds: string[]): Promise<string> {
  const ticket = randomToken();
  await ctx.db.insert(loginTickets).values({
    ticketHash: ctx.secrets.hash('login-ticket', ticket),
    emailCanonical: email,
    userIds,
    expiresAt: new Date(ctx.clock.now().getTime() + TICKET_TTL_MS),
  });
  return ticket;
}

/** Spends a ticket of this address: the accounts it was issued for and when, or null when refused. */
export async function spendTicket(ctx: Ctx, ticket: string, email: string): Promise<{ userIds: string[]; issuedAt: Date } | null> {
  const now = ctx.clock.now();
  // Single use: the UPDATE only matches an unused, unexpired ticket; no row means refused.
  const [row] = await ctx.db
    .update(loginTickets)
    .set({ usedAt: now })
    .where(and(
      eq(loginTickets.ticketHash, ctx.secrets.hash('login-ticket', ticket)),
      eq(loginTickets.emailCanonical, email),
      isNull(loginTickets.usedAt),
      gt(loginTickets.expiresAt, now),
    ))
    .returning({ userIds: loginTickets.userIds, expiresAt: loginTickets.expiresAt });
  return row ? { userIds: row.userIds, issuedAt: new Date(row.expiresAt.getTime() - TICKET_TTL_MS) } : null;
}

export interface TicketSignInInput {
  email: string; ticket: string; tenant: string; ip: string; userAgent?: string;
  /** The browser's device cookie: it signed in with the right password, so it is trusted as after signIn. */
  device?: string;
}

export interface TicketSignIn {
  kind: 'signed-in'; token: string; expiresAt: Date;
  user: { id: string; email: string; name: string; role: string }; tenant: { slug: string; name: string };
  /** The device cookie to set (see abuse/devices.ts). */
  device: string;
}

/** Finishes a tenant choice with the ticket alone (the hosted chooser page). 401 invalid_ticket otherwise. */
export async function signInWithTicket(ctx: Ctx, input: TicketSignInInput): Promise<TicketSignIn> {
  const email = canonicalEmail(input.email);
  const spent = await spendTicket(ctx, input.ticket, email);
  if (!spent || spent.userIds.length === 0) throw invalidTicket();
  const [row] = await ctx.db
    .select({ u: users, t: tenants })
    .from(users)
    .innerJoin(tenants, eq(tenants.id, users.tenantId))
    .where(and(inArray(users.id, spent.userIds), eq(users.emailCanonical, email), eq(tenants.slug, input.tenant)));
  const changedSince = (row?.u.passwordChangedAt?.getTime() ?? 0) > spent.issuedAt.getTime();
  if (!row || row.u.disabledAt || row.u.lockedAt || !allowsPassword(row.t) || changedSince) throw invalidTicket();
  const { u, t } = row;
  // As after a password: only someone who proved it learns that it expired.
  const maxAgeDays = passwordAgeLimit(t);
  if (maxAgeDays !== null && (u.passwordChangedAt ?? u.createdAt).getTime() < ctx.clock.now().getTime() - maxAgeDays * 86_400_000) {
    throw passwordExpired(maxAgeDays);
  }
  const session = await createSession(ctx, ctx.db, {
    userId: u.id, tenantId: t.id, authMethod: 'password', ip: input.ip, userAgent: input.userAgent, auditData: { method: 'password', via: 'tenant_choice' },
  });
  return {
    kind: 'signed-in',
    token: session.token,
    expiresAt: session.expiresAt,
    user: { id: u.id, email: u.email, name: u.name, role: u.role },
    tenant: { slug: t.slug, name: t.name },
    device: new Devices(ctx.secrets).remember(input.device, email),
  };
}
