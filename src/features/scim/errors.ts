// SCIM's own error shape (RFC 7644 §3.12): {"schemas":[…Error], "status":"400", "scimType":…, "detail":…}.
// The SCIM door answers every refusal this way — its own ones (ScimError) and those of the account
// functions it calls (AppError, mapped by code) alike.
import { AppError } from '../../errors.ts';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The scimType values of RFC 7644 §3.12 that this server answers with. */
export type ScimType = 'invalidFilter' | 'invalidSyntax' | 'invalidValue' | 'invalidPath' | 'noTarget' | 'uniqueness' | 'mutability' | 'tooMany';

export class ScimError extends Error {
  constructor(readonly status: number, readonly scimType: ScimType | null, detail: string) {
    super(detail);
    this.name = 'ScimError';
  }
}

export const invalidFilter = (detail: string) => new ScimError(400, 'invalidFilter', detail);
export const invalidSyntax = (detail: string) => new ScimError(400, 'invalidSyntax', detail);
export const invalidValue = (detail: string) => new ScimError(400, 'invalidValue', detail);
export const invalidPath = (detail: string) => new ScimError(400, 'invalidPath', detail);
export const uniqueness = (detail: string) => new ScimError(409, 'uniqueness', detail);
/** Missing, wrong or revoked token, or a token of another tenant: the same answer for each. */
export const badToken = () => new ScimError(401, null, 'A valid SCIM bearer token for this tenant is required.');

/** What the account functions refuse with, in SCIM's words. */
const FROM_CODE: Record<string, ScimType | null> = {
  invalid_request: 'invalidValue',
  email_taken: 'uniqueness',
  external_id_taken: 'uniqueness',
};

/** Any error as the SCIM body and status; 5xx say nothing more. */
export function scimErrorOf(err: unknown): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  let status = 500;
  let scimType: ScimType | null = null;
  let detail = 'Something went wrong on our side.';
  let headers: Record<string, string> = {};
  if (err instanceof ScimError) ({ status, scimType, message: detail } = err);
  else if (err instanceof AppError && err.status < 500) {
    status = err.status;
    scimType = FROM_CODE[err.code] ?? null;
    detail = err.message;
    headers = err.headers;
  }
  if (status === 401) headers = { ...headers, 'www-authenticate': 'Bearer realm="scim"' };
  return { status, headers, body: { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail } };
}
