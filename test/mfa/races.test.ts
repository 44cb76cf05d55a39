// Two submits of one right answer at once, on PostgreSQL (PGlite runs one statement at a time, so
// there the sign-in and reset suites see the submits one after the other): one wins, the other is
// told that the ticket or link was spent — never that its right code was wrong, which would also
// charge the account's limit for a double click.
import { describe, expect, it } from 'vitest';
import { STRONG2, useTestApp } from '../helpers/app.ts';
import { PG } from '../abuse/helpers.ts';
import { codeAt, secondStep, ticketFor, totpAccount } from './helpers.ts';

describe.skipIf(!PG)('double submits on PostgreSQL', () => {
  const t = useTestApp({ db: 'postgres' });

  it('the second step: one session; the other answer is invalid_ticket', async () => {
    for (let i = 0; i < 3; i++) {
      const a = await totpAccount(t);
      const body = { ticket: await ticketFor(t, a.email), method: 'totp', code: codeAt(t, a.totp.secret) };
      const answers = await Promise.all([secondStep(t, body), secondStep(t, body)]);
      expect(answers.map((r) => `${r.status} ${r.body.error ?? ''}`).sort()).toEqual(['200 ', '401 invalid_ticket']);
    }
  });

  it('the reset: one new password; the other answer is token_used', async () => {
    for (let i = 0; i < 3; i++) {
      const a = await totpAccount(t);
      const { token } = await t.resetMail(a.email);
      const body = { token, password: STRONG2, mfa: { tenant: a.slug, method: 'totp', code: codeAt(t, a.totp.secret) } };
      const answers = await Promise.all([0, 1].map(() => t.api('POST', '/api/v1/password/reset', body)));
      expect(answers.map((r) => `${r.status} ${r.body.error ?? ''}`).sort()).toEqual(['200 ', '410 token_used']);
    }
  });
});
