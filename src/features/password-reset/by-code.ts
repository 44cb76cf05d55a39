// Proof by code: the address plus the 8-character code from the same email, for when a mail
// scanner or a phone mangles the link. The code is bound to the address in its keyed hash, and a
// few wrong tries burn it (the link keeps working).
import { tokenInvalid } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { normalizeCode } from '../../platform/crypto.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { countWrongCode, tokenByEmailAndCode, type ResetToken } from './store.ts';

export const MAX_CODE_ATTEMPTS = 5;

export const codeHash = (ctx: Pick<Ctx, 'secrets'>, email: string, code: string) => ctx.secrets.hash('reset-code', `${email}\0${code}`);

export async function findByCode(ctx: Pick<Ctx, 'clock' | 'db' | 'secrets'>, emailInput: string, codeInput: string): Promise<ResetToken> {
  const email = canonicalEmail(emailInput);
  const code = normalizeCode(codeInput);
  const row = code ? await tokenByEmailAndCode(ctx.db, email, codeHash(ctx, email, code)) : undefined;
  if (!row) {
    await countWrongCode(ctx.db, email, ctx.clock.now());
    throw tokenInvalid('This code is not right — check it, or use the link from the same email.');
  }
  if (row.codeAttempts >= MAX_CODE_ATTEMPTS) {
    throw tokenInvalid('This code was entered wrongly too often and no longer works — use the link in the email or request a new one.');
  }
  return row;
}
