// The tenant choice. When a password is right in several tenants, signIn (sign-in.ts) answers
// choose-tenant with a ticket: a random, single-use, five-minute proof that this address's password
// was verified for those accounts. Only its keyed hash is stored.
//   - The JSON API repeats the call with the password, the tenant and the ticket (CONTRACT §4).
//   - The hosted chooser page must never carry the password back into the HTML, so it finishes
//     with the ticket alone: signInWithTicket (email + ticket + tenant, no password).
// A ticket signs in only to an account it was issued for that is still as it was: enabled, not
// locked, password sign-in on, and its password unchanged since the ticket was issued.
import { and, eq, gt, isNull } from 'drizzle-orm';
import { invalidTicket } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { randomToken } from '../../platform/crypto.ts';
import { loginTickets } from '../../platform/schema.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { accountAmong } from '../accounts/store.ts';
import { allowsPassword } from '../tenants/store.ts';
import { completeSignIn, type SignInOutcome } from './signed-in.ts';

export const TICKET_TTL_MS = 5 * 60_000;

/** A new ticket for the accounts whose password was just verified. */
export async function issueTicket(ctx: Pick<Ctx, 'clock' | 'db' | 'secrets'>, email: string, userIds: string[]): Promise<string> {
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
  /** The hosted pages' second-step cookie (sign-in.ts). */
  binding?: string;
}

/** Finishes a tenant choice with the ticket alone (the hosted chooser page). 401 invalid_ticket otherwise. */
export async function signInWithTicket(ctx: Ctx, input: TicketSignInInput): Promise<SignInOutcome> {
  const email = canonicalEmail(input.email);
  const spent = await spendTicket(ctx, input.ticket, email);
  if (!spent || spent.userIds.length === 0) throw invalidTicket();
  const found = await accountAmong(ctx.db, spent.userIds, email, input.tenant);
  const changedSince = (found?.user.passwordChangedAt?.getTime() ?? 0) > spent.issuedAt.getTime();
  if (!found || found.user.disabledAt || found.user.lockedAt || !allowsPassword(found.tenant) || changedSince) throw invalidTicket();
  return completeSignIn(ctx, found, { email, ip: input.ip, userAgent: input.userAgent, device: input.device, binding: input.binding }, { method: 'password', via: 'tenant_choice' });
}
