import { describe, expect, it } from 'vitest';
import { issuerProblem, isLoopbackHost } from '../../src/features/sso/connection.ts';
import { safeReturnTo } from '../../src/features/sso/flow.ts';

describe('SSO rules', () => {
  it('an http issuer is accepted on loopback only', () => {
    for (const ok of ['https://accounts.google.com', 'https://login.example.com/tenant/v2.0', 'http://127.0.0.1:8080', 'http://127.1.2.3', 'http://localhost:3000', 'http://[::1]:9000']) {
      expect(issuerProblem(ok), ok).toBeNull();
    }
    for (const bad of ['http://accounts.google.com', 'http://10.0.0.1', 'http://localhost.evil.com', 'http://127.0.0.1.nip.io', 'ftp://127.0.0.1', 'https://u:p@idp.example.com', 'https://idp.example.com/#x', 'not a url']) {
      expect(issuerProblem(bad), bad).not.toBeNull();
    }
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('returnTo stays a path on PUBLIC_URL', () => {
    const base = 'https://keyturn.test';
    expect(safeReturnTo(base, '/settings/password?x=1#y')).toBe('/settings/password?x=1#y');
    for (const bad of [undefined, '', 'https://evil.example/', '//evil.example', '/\\evil.example', '\\\\evil', 'javascript:alert(1)', '/\nLocation: x', `/${'a'.repeat(1001)}`]) {
      expect(safeReturnTo(base, bad), String(bad)).toBe('/');
    }
    // Behind a path prefix, the path stays under it.
    expect(safeReturnTo('https://example.com/keyturn', '/settings')).toBe('/settings');
    expect(safeReturnTo('https://example.com/keyturn', '/../../evil')).toBe('/');
  });
});
