import { hash, verify } from '@node-rs/argon2';
import { normalizePassword } from '../password-policy/policy.ts';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string | null, password: string): Promise<boolean>;
}

export function createPasswordHasher(params: { memoryCost: number; timeCost: number; parallelism: number }): PasswordHasher {
  const options = { algorithm: 2 /* argon2id */, ...params } as const;
  // Verified against when there is no account (or no password), so a miss costs what a hit costs.
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(normalizePassword(password), options),
    async verify(stored, password) {
      const target = stored ?? (await (dummy ??= hash('keyturn-dummy-password', options)));
      try {
        const ok = await verify(target, normalizePassword(password));
        return ok && stored !== null;
      } catch {
        return false;
      }
    },
  };
}
