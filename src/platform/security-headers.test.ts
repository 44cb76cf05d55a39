// The security headers are computed once; they must still be on every answer, API and error alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/helpers/app.ts';

let plain: TestApp;
let https: TestApp;
beforeAll(async () => {
  plain = await startTestApp({ env: { PUBLIC_URL: 'http://localhost:3000' } });
  https = await startTestApp({ env: { PUBLIC_URL: 'https://id.keyturn.test' } });
});
afterAll(async () => { await plain?.close(); await https?.close(); });

describe('security headers', () => {
  it('every answer of the public listener carries them: a JSON answer, a 401 and a 404', async () => {
    for (const url of ['/api/v1/password/policy', '/api/v1/session', '/no-such-page']) {
      const res = await plain.api('GET', url);
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('SAMEORIGIN');
      expect(res.headers['cross-origin-opener-policy'], url).toBe('same-origin');
      expect(String(res.headers['content-security-policy']), url).toContain("frame-ancestors 'none'");
      expect(res.headers['strict-transport-security'], url).toBeUndefined(); // http: HSTS would lock a dev box out
    }
  });

  it('an https PUBLIC_URL adds HSTS and upgrade-insecure-requests', async () => {
    const res = await https.api('GET', '/api/v1/session');
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(String(res.headers['content-security-policy'])).toMatch(/;upgrade-insecure-requests$/);
  });

  it('the operator listener does not need them and does not get the pages\' CSP', async () => {
    const res = await plain.app.adminApp.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['content-security-policy']).toBeUndefined();
  });
});
