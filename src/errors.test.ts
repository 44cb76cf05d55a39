// Every error the API can answer is made by a factory in errors.ts: a reader finds every code, its
// status and its words in one file, and two places cannot answer the same code differently.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AppError, emailTaken, importRejected, internal, invalidTicket, malformedRequest, payloadTooLarge, slugTaken, tokenAccountUnavailable,
  tokenExpired, tokenInvalid, tokenRevoked, tokenSuperseded, tokenUsed, unauthenticated, unsupportedMediaType,
} from './errors.ts';

const SRC = import.meta.dirname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|js|mjs)$/.test(e.name) ? [path] : [];
  });
}

const shape = (e: AppError) => ({ status: e.status, code: e.code, message: e.message, extra: e.extra, headers: e.headers });

describe('error codes', () => {
  it('no file under src/ but errors.ts constructs an AppError', () => {
    const mine = new Set(['errors.ts', 'errors.test.ts']); // this test names the pattern it looks for
    const offenders = sourceFiles(SRC)
      .map((path) => relative(SRC, path).split('\\').join('/'))
      .filter((path) => !mine.has(path))
      .filter((path) => /new\s+AppError\s*\(/.test(readFileSync(join(SRC, path), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the factories moved into errors.ts answer as the code they replaced did', () => {
    const at = new Date('2030-01-02T03:04:05.000Z');
    expect(shape(unauthenticated())).toEqual({ status: 401, code: 'unauthenticated', message: 'Sign in first.', extra: {}, headers: {} });
    expect(shape(unauthenticated('Unauthorized.'))).toMatchObject({ status: 401, code: 'unauthenticated', message: 'Unauthorized.' });
    expect(shape(invalidTicket())).toMatchObject({ status: 401, code: 'invalid_ticket', message: 'The tenant choice expired — sign in again.', extra: {} });
    expect(shape(emailTaken())).toMatchObject({ status: 409, code: 'email_taken', message: 'A user with this email already exists in this tenant.' });
    expect(shape(slugTaken('acme'))).toMatchObject({ status: 409, code: 'slug_taken', message: 'A tenant with the slug "acme" already exists.' });
    const problems = [{ row: 2, email: 'x', reason: 'invalid_email' }];
    expect(shape(importRejected(problems))).toMatchObject({
      status: 422, code: 'import_rejected', message: 'Nothing was imported: 1 row cannot be (listed in problems).', extra: { problems },
    });
    expect(importRejected([...problems, ...problems]).message).toBe('Nothing was imported: 2 rows cannot be (listed in problems).');
    expect(shape(tokenInvalid())).toMatchObject({ status: 404, code: 'token_invalid', message: 'This reset link is not valid — request a new one.', extra: {} });
    expect(shape(tokenUsed(at))).toEqual({ status: 410, code: 'token_used', message: 'This link was already used.', extra: { at: at.toISOString() }, headers: {} });
    expect(shape(tokenExpired(at))).toMatchObject({ status: 410, code: 'token_expired', message: 'This link expired — request a new one.', extra: { at: at.toISOString() } });
    expect(shape(tokenSuperseded(at, 'link'))).toMatchObject({
      status: 410, code: 'token_superseded', extra: { at: at.toISOString(), newer: 'link' },
      message: 'Your administrator made a newer link, which was not emailed — ask them for it, or request a new email.',
    });
    expect(shape(tokenSuperseded(at, 'email'))).toMatchObject({
      status: 410, code: 'token_superseded', message: 'A newer link was sent — use the newest email.', extra: { at: at.toISOString(), newer: 'email' },
    });
    expect(shape(tokenRevoked(at, 'password_changed'))).toMatchObject({
      status: 410, code: 'token_superseded', extra: { at: at.toISOString(), reason: 'password_changed' },
      message: 'The account changed since this link was sent (new password, new email or disabled) — request a new link.',
    });
    expect(shape(tokenAccountUnavailable(at))).toMatchObject({
      status: 410, code: 'token_superseded', extra: { at: at.toISOString(), reason: 'account_unavailable' },
      message: 'The account behind this link can no longer be reset — contact your administrator.',
    });
    // The key order of a JSON answer is the order of `extra`: `at` first, as before.
    expect(Object.keys(tokenSuperseded(at, 'link').extra)).toEqual(['at', 'newer']);
    expect(shape(payloadTooLarge())).toMatchObject({ status: 413, code: 'payload_too_large', message: 'The request body is too large.' });
    expect(shape(unsupportedMediaType())).toMatchObject({ status: 415, code: 'unsupported_media_type', message: 'Send the body as application/json or a form.' });
    expect(shape(malformedRequest(400, 'The request is not valid.'))).toMatchObject({ status: 400, code: 'invalid_request', message: 'The request is not valid.', extra: {} });
    expect(shape(internal())).toMatchObject({ status: 500, code: 'internal', message: 'Something went wrong on our side.', extra: {} });
  });
});
