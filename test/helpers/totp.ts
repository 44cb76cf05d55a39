// Authenticator-app codes as a phone would compute them (otpauth), at the app's clock — shared by the
// API suites and the browser journeys of two-step verification.
import { Secret, TOTP } from 'otpauth';
import type { Clock, ManualClock } from '../../src/platform/clock.ts';

const STEP_MS = 30_000;

/** The app's code for `secret`, `steps` time steps from the clock's now (spaces in the key are ignored). */
export function codeAt(clock: Clock, secret: string, steps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret.replace(/\s/g, '')) }).generate({ timestamp: clock.now().getTime() + steps * STEP_MS });
}

/**
 * A six-digit code that is none of the codes the server accepts now (this step and one either
 * side): a wrong answer that cannot be right by chance.
 */
export function wrongCode(clock: Clock, secret: string): string {
  const right = new Set([-1, 0, 1].map((s) => codeAt(clock, secret, s)));
  for (let n = 123_456; ; n = (n + 111_111) % 1_000_000) {
    const code = String(n).padStart(6, '0');
    if (!right.has(code)) return code;
  }
}

/**
 * Moves the clock to the middle of a time step, so a code computed here belongs to the same step
 * when the server checks it (a step boundary in between would shift a ±2 code to ±1).
 */
export function midStep(clock: ManualClock): void {
  const into = clock.now().getTime() % STEP_MS;
  clock.advance((STEP_MS + STEP_MS / 2 - into) % STEP_MS);
}

/** The next time step: the code just used is spent, a new one is due. */
export const nextStep = (clock: ManualClock) => clock.advance(STEP_MS);

/** A code of a time step no code was taken from yet: the middle of the next step. */
export function freshCode(clock: ManualClock, secret: string): string {
  midStep(clock);
  nextStep(clock);
  return codeAt(clock, secret);
}
