// Calling a tenant's SCIM endpoint the way an identity provider does: bearer token, SCIM media type.
import { expect } from 'vitest';
import { resOf, type Res, type TestApp } from '../helpers/app.ts';

export const SCIM_JSON = 'application/scim+json';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** A new SCIM token of the tenant, made through the operator API. */
export async function scimToken(t: TestApp, slug: string, label = 'Okta'): Promise<{ id: string; token: string }> {
  const res = await t.op('POST', `/admin/v1/tenants/${slug}/scim-tokens`, { label });
  expect(res.status, res.raw).toBe(201);
  return res.body;
}

export interface ScimClient { (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Res>; }

/** A client for /scim/v2/{slug}: `path` is what follows the tenant (e.g. `/Users?filter=…`). */
export function scimClient(t: TestApp, slug: string, token: string | null): ScimClient {
  return async (method, path, body, headers = {}) => resOf(await t.app.publicApp.inject({
    method: method as 'GET',
    url: `/scim/v2/${slug}${path}`,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': SCIM_JSON } : {}),
      accept: SCIM_JSON,
      ...headers,
    },
    ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  }));
}

/** The answer is SCIM's error shape with this status (and scimType, when given). */
export function expectScimError(res: Res, status: number, scimType?: string): void {
  expect(res.status, res.raw).toBe(status);
  expect(String(res.headers['content-type'])).toContain(SCIM_JSON);
  expect(res.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: String(status), detail: expect.any(String) });
  if (scimType) expect(res.body.scimType).toBe(scimType);
}

export const userNameFilter = (email: string) => `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`;
