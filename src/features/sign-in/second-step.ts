// The second step of a sign-in: the ticket from the first step, answered with a factor (or, on an
// enrolment ticket, after a factor was added). Proving the factor, spending the ticket and making
// the session are one transaction: a code is never used up by a sign-in that did not happen.
import { AppError, mfaEnrollmentRequired, mfaInvalid, mfaTicketInvalid } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { accountById, type Account } from '../accounts/store.ts';
import { AMR, proveFactor, type Answer } from '../mfa/factors.ts';
import { activeFactors, spendTicket, type Ticket } from '../mfa/store.ts';
import { openTicket, wrongAnswer, type TicketClient } from '../mfa/tickets.ts';
import { firstAmr, secondStepPurpose, startSession, type FirstFactor, type SignedIn } from './signed-in.ts';

export interface SecondStepInput {
  ticket: string;
  client: TicketClient & { device?: string };
  /** Absent on an enrolment ticket: the factor just added is the proof. */
  answer?: Answer;
}

/**
 * The account a ticket is for, while it can still sign in: enabled, not locked, and its password
 * not changed since the ticket was issued (a reset elsewhere ends a half-finished sign-in).
 */
export async function ticketAccount(ctx: Pick<Ctx, 'db'>, row: Ticket): Promise<Account> {
  const account = await accountById(ctx.db, row.userId);
  const changedSince = (account?.user.passwordChangedAt?.getTime() ?? 0) > row.createdAt.getTime();
  if (!account || account.user.disabledAt || account.user.lockedAt || changedSince) throw mfaTicketInvalid();
  return account;
}

export async function finishSecondStep(ctx: Ctx, input: SecondStepInput): Promise<SignedIn> {
  const row = await openTicket(ctx, input.ticket, input.client);
  const account = await ticketAccount(ctx, row);
  const first: FirstFactor = { authMethod: row.authMethod === 'google' ? 'google' : 'password', auditData: row.auditData };
  const client = { ...input.client, email: account.user.emailCanonical };
  const now = ctx.clock.now();

  if (row.purpose === 'enroll') {
    // The factor added with this ticket was proved as it was added (a code, a key's signature).
    const [newest] = (await activeFactors(ctx.db, account.user.id)).slice(-1);
    if (!newest) throw mfaEnrollmentRequired(input.ticket);
    return ctx.db.transaction(async (tx) => {
      if (!(await spendTicket(tx, row.ticketHash, now))) throw mfaTicketInvalid();
      const amr = [firstAmr(first.authMethod), newest.type === 'webauthn' ? AMR.webauthn : AMR.totp];
      return startSession(ctx, tx, account, client, { ...first, auditData: { ...first.auditData, enrolled: newest.type } }, amr);
    });
  }

  if (!input.answer) throw mfaInvalid();
  const answer = input.answer;
  try {
    return await ctx.db.transaction(async (tx) => {
      // The ticket first: of two submits of one right answer, the loser waits on the ticket's row
      // and hears invalid_ticket, instead of finding the code used and being charged a wrong answer.
      // A wrong answer rolls the spending back.
      if (!(await spendTicket(tx, row.ticketHash, now))) throw mfaTicketInvalid();
      const { amr } = await proveFactor(ctx, tx, account, answer, secondStepPurpose(row.ticketHash));
      return startSession(ctx, tx, account, client, { ...first, auditData: { ...first.auditData, secondFactor: answer.method } }, [firstAmr(first.authMethod), amr]);
    });
  } catch (e) {
    if (e instanceof AppError && e.code === 'mfa_invalid') throw mfaInvalid(await wrongAnswer(ctx, row));
    throw e;
  }
}
