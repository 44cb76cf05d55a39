// The one filter form identity providers send to find a user before creating it (RFC 7644 §3.4.2.2):
// `userName eq "…"` or `externalId eq "…"`. Attribute names and the operator are case-insensitive,
// as the RFC says; the value is a JSON string (escapes allowed). Anything else — another attribute
// or operator, `and`/`or`, brackets, an unquoted value, trailing text — is refused, so nothing of
// a filter ever reaches SQL but one value, which goes there as a bound parameter.
import { invalidFilter } from './errors.ts';

export interface Filter { attribute: 'userName' | 'externalId'; value: string; }

const USER_SCHEMA_PREFIX = 'urn:ietf:params:scim:schemas:core:2.0:user:';
const ATTRIBUTES: Record<string, Filter['attribute']> = { username: 'userName', externalid: 'externalId' };
// attrPath SP "eq" SP string — the string as JSON defines it (no raw control characters).
const FORM = /^\s*(\S+)\s+([A-Za-z]+)\s+("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")\s*$/;
export const MAX_FILTER_LENGTH = 1024;

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw invalidFilter(`The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  const m = FORM.exec(text);
  if (!m) throw invalidFilter('Only userName eq "…" and externalId eq "…" are supported, with the value in double quotes.');
  const [, path, op, quoted] = m as unknown as [string, string, string, string];
  let name = path.toLowerCase();
  if (name.startsWith(USER_SCHEMA_PREFIX)) name = name.slice(USER_SCHEMA_PREFIX.length);
  const attribute = ATTRIBUTES[name];
  if (!attribute) throw invalidFilter(`Filtering on "${path.slice(0, 100)}" is not supported: use userName or externalId.`);
  if (op.toLowerCase() !== 'eq') throw invalidFilter(`The operator "${op.slice(0, 20)}" is not supported: use eq.`);
  const value = JSON.parse(quoted) as string;
  if (value.includes('\u0000')) throw invalidFilter('The value must not contain a NUL character.');
  return { attribute, value };
}
