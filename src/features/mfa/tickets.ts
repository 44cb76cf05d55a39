// The second step's ticket: proof that the first factor (password, Google) was right for one
// account, five minutes long, usable once, bound to the client that got it, and dead after five
// wrong answers. Only its keyed hash is stored. Browsers are bound by a cookie the page sets;
// API clients by their IP address and user agent.
import { mfaTicketInvalid } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { randomToken } from '../../platform/crypto.ts';
import { failTicket, insertTicket, liveTicket, type Ticket } from './store.ts';

export const TICKET_TTL_MS = 5 * 60_000;
export const TICKET_ANSWERS = 5;

export type TicketPurpose = 'sign_in' | 'enroll';

/** Who may use a ticket: the browser holding the binding cookie, else this IP and user agent. */
export interface TicketClient { binding?: string; ip: string; userAgent?: string; }

export const ticketHash = (ctx: Pick<Ctx, 'secrets'>, ticket: string) => ctx.secrets.hash('mfa-ticket', ticket);

function clientHash(ctx: Pick<Ctx, 'secrets'>, c: TicketClient): string {
  return ctx.secrets.hash('mfa-client', c.binding ? `cookie\0${c.binding}` : `api\0${c.ip}\0${c.userAgent ?? ''}`);
}

export interface NewTicket {
  userId: string; purpose: TicketPurpose; client: TicketClient;
  /** The first factor: what the session's authMethod will be. */
  authMethod: 'password' | 'google';
  /** The `signed_in` audit line's data, kept for when the session is made. */
  auditData: Record<string, unknown>;
}

/** A ticket's value, made before it is stored when something must be bound to it first (a WebAuthn challenge). */
export const newTicketValue = () => randomToken();

export async function issueTicket(ctx: Pick<Ctx, 'clock' | 'db' | 'secrets'>, t: NewTicket, ticket = newTicketValue()): Promise<string> {
  const now = ctx.clock.now();
  await insertTicket(ctx.db, {
    ticketHash: ticketHash(ctx, ticket), userId: t.userId, purpose: t.purpose, clientHash: clientHash(ctx, t.client),
    authMethod: t.authMethod, auditData: t.auditData, createdAt: now, expiresAt: new Date(now.getTime() + TICKET_TTL_MS),
  });
  return ticket;
}

/** The live ticket for this client, or 401 invalid_ticket (unknown, spent, expired, worn out, another client). */
export async function openTicket(ctx: Pick<Ctx, 'clock' | 'db' | 'secrets'>, ticket: string, client: TicketClient, purpose?: TicketPurpose): Promise<Ticket> {
  if (typeof ticket !== 'string' || ticket.length < 20 || ticket.length > 100) throw mfaTicketInvalid();
  const row = await liveTicket(ctx.db, ticketHash(ctx, ticket), ctx.clock.now());
  if (!row || row.clientHash !== clientHash(ctx, client) || (purpose && row.purpose !== purpose)) throw mfaTicketInvalid();
  return row;
}

/** A wrong answer on this ticket; returns how many it has left (0: it is dead). */
export const wrongAnswer = (ctx: Pick<Ctx, 'clock' | 'db'>, row: Ticket) => failTicket(ctx.db, row.ticketHash, TICKET_ANSWERS, ctx.clock.now());
