// Proof by link: the 32-byte token from the emailed URL. Looked up by its keyed hash.
import { tokenInvalid } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { tokenByHash, type ResetToken } from './store.ts';

export const tokenHash = (ctx: Pick<Ctx, 'secrets'>, token: string) => ctx.secrets.hash('reset-token', token);

export async function findByLink(ctx: Pick<Ctx, 'db' | 'secrets'>, token: string): Promise<ResetToken> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) throw tokenInvalid();
  const row = await tokenByHash(ctx.db, tokenHash(ctx, token));
  if (!row) throw tokenInvalid();
  return row;
}
