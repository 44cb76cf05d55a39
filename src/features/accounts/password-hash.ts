import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { hash, verify } from '@node-rs/argon2';
import { normalizePassword } from '../password-policy/policy.ts';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string | null, password: string): Promise<boolean>;
  /**
   * Verifies one password against the hashes of every account an address has, in a time that
   * does not tell how many there are (none, one or several). See `verifyAll` below.
   */
  verifyAll(hashes: (string | null)[], password: string): Promise<boolean[]>;
}

// Addresses with up to this many accounts answer in the same time; beyond it the answer may take
// longer (a contact-centre person rarely has more than a few clusters).
const PADDED_ACCOUNTS = 4;
// Head-room over the estimate, so that PADDED_ACCOUNTS parallel verifications end before the floor.
const FLOOR_MARGIN = 1.25;

export function createPasswordHasher(params: { memoryCost: number; timeCost: number; parallelism: number }): PasswordHasher {
  const options = { algorithm: 2 /* argon2id */, ...params } as const;
  // Verified against when there is no account (or no password), so a miss costs what a hit costs.
  let dummy: Promise<string> | undefined;
  // How long one verification takes on this instance now (moving average of single verifications).
  let singleMs = 0;
  // Verifications that can run at once: libuv's pool (4 by default) on the cores there are.
  const lanes = Math.max(1, Math.min(availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE) || 4));

  const verifyOne = async (stored: string | null, password: string): Promise<boolean> => {
    const target = stored ?? (await (dummy ??= hash('keyturn-dummy-password', options)));
    try {
      const ok = await verify(target, normalizePassword(password));
      return ok && stored !== null;
    } catch {
      return false;
    }
  };

  return {
    hash: (password) => hash(normalizePassword(password), options),
    verify: verifyOne,
    /**
     * Sequential checks took one hash time per account (19.8 ms for one, 34.1 for two, 50.8 for
     * three): the time told how many accounts share an address. Now every hash is verified at once
     * (no account: the dummy) and the answer waits for a floor: the time PADDED_ACCOUNTS parallel
     * verifications take, estimated from this instance's recent single ones. The floor is a wait,
     * not work: it costs latency, never CPU or throughput.
     */
    async verifyAll(hashes, password) {
      const started = performance.now();
      const targets = hashes.length === 0 ? [null] : hashes;
      const results = await Promise.all(targets.map((h) => verifyOne(h, password)));
      const elapsed = performance.now() - started;
      if (targets.length === 1) singleMs = singleMs === 0 ? elapsed : singleMs * 0.9 + elapsed * 0.1;
      const floor = singleMs * Math.ceil(PADDED_ACCOUNTS / lanes) * FLOOR_MARGIN;
      if (elapsed < floor) await sleep(floor - elapsed);
      return hashes.length === 0 ? [] : results;
    },
  };
}
