// The last steps of every sign-in once its first factor is proved (a password just verified, a
// tenant-choice ticket that stands for one, or Google): the password's age, then either the second
// step (the account has a factor, or its tenant requires one it lacks) or the session, with this
// browser remembered as one that signed in to the address.
import { passwordExpired, type MfaMethod } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import type { Db } from '../../platform/db.ts';
import { Devices } from '../abuse/devices.ts';
import type { Account } from '../accounts/store.ts';
import { factorRequired, secondStepMethods } from '../mfa/factors.ts';
import { issueTicket, newTicketValue, ticketHash, type TicketClient } from '../mfa/tickets.ts';
import { passwordAgeLimit } from '../password-policy/history.ts';
import type { AuthMethod } from '../sessions/sessions.ts';

export interface SignedIn {
  kind: 'signed-in'; token: string; expiresAt: Date;
  user: { id: string; email: string; name: string; role: string }; tenant: { slug: string; name: string };
  /** The device cookie to set: this browser is now trusted for the address (abuse/devices.ts). */
  device: string;
}

/** The first factor was right; no session yet. The ticket carries the sign-in to its second step. */
export type SecondStep =
  | { kind: 'mfa-required'; ticket: string; methods: MfaMethod[]; webauthn?: unknown }
  | { kind: 'mfa-enrollment-required'; ticket: string };

export type SignInOutcome = SignedIn | SecondStep;

export interface Client extends TicketClient { email: string; device?: string; }

export interface FirstFactor {
  authMethod: AuthMethod;
  /** The `signed_in` audit line's data. */
  auditData: Record<string, unknown>;
  /** A Google sign-in of a tenant that trusts its IdP to have asked for a second factor. */
  secondFactorDone?: boolean;
}

type Deps = Pick<Ctx, 'clock' | 'config' | 'db' | 'secrets' | 'sessions'>;

export const firstAmr = (authMethod: string) => (authMethod === 'google' ? 'google' : 'pwd');

/** The sign-in's second step for the account ("sign_in\0<ticket hash>" binds WebAuthn challenges to it). */
export const secondStepPurpose = (hash: string) => `sign_in\0${hash}`;

export async function completeSignIn(ctx: Deps, account: Account, client: Client, auditData: Record<string, unknown>): Promise<SignInOutcome> {
  // Only someone who proved the password learns that it expired (tenants that set a maximum age).
  const { user: u, tenant: t } = account;
  const maxAgeDays = passwordAgeLimit(t);
  if (maxAgeDays !== null && (u.passwordChangedAt ?? u.createdAt).getTime() < ctx.clock.now().getTime() - maxAgeDays * 86_400_000) {
    throw passwordExpired(maxAgeDays);
  }
  return afterFirstFactor(ctx, account, client, { authMethod: 'password', auditData });
}

/** The second step where one is due, else the session. */
export async function afterFirstFactor(ctx: Deps, account: Account, client: Client, first: FirstFactor): Promise<SignInOutcome> {
  const { user: u, tenant: t } = account;
  if (first.secondFactorDone) return startSession(ctx, ctx.db, account, client, first, [firstAmr(first.authMethod), 'mfa']);
  const ticketFor = (purpose: 'sign_in' | 'enroll', value?: string) => issueTicket(ctx, {
    userId: u.id, purpose, client, authMethod: first.authMethod, auditData: first.auditData,
  }, value);
  // The ticket's value comes first, so the WebAuthn challenge can be bound to it; it is stored only
  // when the account has a factor (one statement finds the factors, one stores the ticket).
  const value = newTicketValue();
  const offer = await secondStepMethods(ctx, u.id, secondStepPurpose(ticketHash(ctx, value)));
  if (offer) return { kind: 'mfa-required', ticket: await ticketFor('sign_in', value), ...offer };
  if (factorRequired(t, u.role)) return { kind: 'mfa-enrollment-required', ticket: await ticketFor('enroll') };
  return startSession(ctx, ctx.db, account, client, first, [firstAmr(first.authMethod)]);
}

/** A session for a sign-in that is complete (`db` may be the transaction that proved the last factor). */
export async function startSession(ctx: Deps, db: Db, { user: u, tenant: t }: Account, client: Client, first: FirstFactor, amr: string[]): Promise<SignedIn> {
  const session = await ctx.sessions.create(db, {
    userId: u.id, tenantId: t.id, authMethod: first.authMethod, amr, ip: client.ip, userAgent: client.userAgent,
    auditData: { ...first.auditData, amr },
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
