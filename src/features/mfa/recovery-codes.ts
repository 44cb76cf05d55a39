// Recovery codes: ten one-time codes of the form xxxxx-xxxxx (lower-case letters and digits without
// look-alikes, about 49 bits each), shown once and stored as keyed hashes bound to their account.
import { randomInt } from 'node:crypto';
import type { Secrets } from '../../platform/crypto.ts';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

function newCode(): string {
  let out = '';
  for (let i = 0; i < 10; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** A fresh set: the codes to show once, and the hashes to store. */
export function newRecoveryCodes(secrets: Secrets, userId: string): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  return { codes, hashes: codes.map((c) => recoveryCodeHash(secrets, userId, c)) };
}

/** Accepts upper case, spaces and a missing dash; null when it cannot be a recovery code. */
export function normalizeRecoveryCode(input: string): string | null {
  const bare = input.replace(/[\s-]/g, '').toLowerCase();
  if (bare.length !== 10 || [...bare].some((c) => !ALPHABET.includes(c))) return null;
  return `${bare.slice(0, 5)}-${bare.slice(5)}`;
}

export const recoveryCodeHash = (secrets: Secrets, userId: string, code: string) => secrets.hash('recovery-code', `${userId}\0${code}`);

/** The downloadable text file of a new set. */
export const recoveryCodesText = (codes: string[], account: string) =>
  [`Recovery codes for ${account}`, 'Each code works once, wherever a second factor is asked for. Keep them somewhere safe.', '', ...codes, ''].join('\n');
