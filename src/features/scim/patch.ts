// PATCH /Users/{id} (RFC 7644 §3.5.2) in the two dialects directories send:
// - Okta: `{"op":"replace","value":{"active":false}}` (no path, an object of attributes), or with a path;
// - Entra ID: ops capitalised ("Replace", "Add", "Remove"), booleans as "True"/"False", paths like
//   `name.givenName` and `emails[type eq "work"].value`, and sometimes dotted paths as keys of a
//   path-less value.
// Operations are read into one change (applied later in one transaction). Attributes Keyturn does
// not keep (phone numbers, titles, extension schemas, …) are ignored, as Entra expects.
import type { User } from '../accounts/accounts.ts';
import { booleanOf, emailOf, EXTERNAL_ID_MAX, joinName, NAME_MAX, nameParts } from './user-resource.ts';
import { invalidSyntax, invalidValue } from './errors.ts';

const MAX_OPERATIONS = 100;
const CORE_PREFIX = 'urn:ietf:params:scim:schemas:core:2.0:user:';
// The address Keyturn keeps is the primary work address: these selectors name it.
const EMAIL_VALUE = /^emails\[\s*(type\s+eq\s+"work"|primary\s+eq\s+true)\s*\]\.value$/i;

export interface Change { email?: string; name?: string; externalId?: string | null; active?: boolean; }
type Op = 'add' | 'replace' | 'remove';

/** The working state of one PATCH: the name is put together at the end (its parts may come in separate operations). */
interface Draft extends Omit<Change, 'name'> { wholeName?: string; givenName?: string; familyName?: string; }

function str(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw invalidValue(`${field}: must be a string.`);
  if (value.length > max) throw invalidValue(`${field}: must be at most ${max} characters.`);
  if (value.includes('\u0000')) throw invalidValue(`${field}: must not contain a NUL character.`);
  return value.trim();
}

/** The address among SCIM emails: the primary one, else the work one, else the first. */
function emailFromList(value: unknown): string {
  const list = (Array.isArray(value) ? value : [value]) as { value?: unknown; type?: unknown; primary?: unknown }[];
  const pick = list.find((e) => e && (e.primary === true || String(e.primary).toLowerCase() === 'true'))
    ?? list.find((e) => e && String(e.type).toLowerCase() === 'work') ?? list[0];
  return emailOf(str(pick?.value, 'emails.value', 254), 'emails.value');
}

function apply(draft: Draft, op: Op, rawPath: string, value: unknown): void {
  let path = rawPath.trim();
  if (path.toLowerCase().startsWith(CORE_PREFIX)) path = path.slice(CORE_PREFIX.length);
  const key = path.toLowerCase();
  const removing = op === 'remove';
  switch (key) {
    case 'active':
      if (removing) throw invalidValue('active: cannot be removed; replace it with false to deactivate the user.');
      draft.active = booleanOf(value, 'active');
      return;
    case 'username':
      if (removing) throw invalidValue('userName: cannot be removed.');
      draft.email = emailOf(str(value, 'userName', 254));
      return;
    case 'emails':
      if (!removing) draft.email = emailFromList(value);
      return; // the address cannot be removed; its other entries are not kept
    case 'externalid':
      draft.externalId = removing || value === null ? null : str(value, 'externalId', EXTERNAL_ID_MAX) || null;
      return;
    case 'displayname':
    case 'name.formatted':
      draft.wholeName = removing ? '' : str(value, path, NAME_MAX);
      return;
    case 'name.givenname':
      draft.givenName = removing ? '' : str(value, path, NAME_MAX);
      return;
    case 'name.familyname':
      draft.familyName = removing ? '' : str(value, path, NAME_MAX);
      return;
    case 'name':
      if (removing) { draft.wholeName = ''; return; }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidValue('name: must be an object.');
      for (const [k, v] of Object.entries(value)) apply(draft, op, `name.${k}`, v);
      return;
    default:
      if (EMAIL_VALUE.test(path)) {
        if (!removing) draft.email = emailOf(str(value, path, 254), path);
      }
      // Anything else is an attribute Keyturn does not keep: ignored.
  }
}

/** The PatchOp body as one change to `user`; 400 with scimType invalidSyntax or invalidValue when it cannot be read. */
export function readPatch(body: unknown, user: User): Change {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a PatchOp object.');
  const operations = (body as { Operations?: unknown; operations?: unknown }).Operations ?? (body as { operations?: unknown }).operations;
  if (!Array.isArray(operations) || operations.length === 0) throw invalidSyntax('Operations: must be a non-empty array of operations.');
  if (operations.length > MAX_OPERATIONS) throw invalidSyntax(`Operations: at most ${MAX_OPERATIONS} in one request.`);
  const draft: Draft = {};
  operations.forEach((raw: unknown, i) => {
    if (!raw || typeof raw !== 'object') throw invalidSyntax(`Operations[${i}]: must be an object.`);
    const { op: rawOp, path, value } = raw as { op?: unknown; path?: unknown; value?: unknown };
    const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw invalidSyntax(`Operations[${i}].op: must be add, replace or remove.`);
    if (path !== undefined && typeof path !== 'string') throw invalidSyntax(`Operations[${i}].path: must be a string.`);
    if (path) return apply(draft, op, path, value);
    if (op === 'remove') throw invalidSyntax(`Operations[${i}]: remove needs a path.`);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidSyntax(`Operations[${i}].value: without a path, must be an object of attributes.`);
    for (const [k, v] of Object.entries(value)) apply(draft, op, k, v);
  });
  const { wholeName, givenName, familyName, ...change } = draft;
  // A whole name (displayName, name.formatted) wins over its parts sent in the same request.
  if (wholeName !== undefined) return { ...change, name: wholeName };
  if (givenName !== undefined || familyName !== undefined) {
    const current = nameParts(user.name);
    return { ...change, name: joinName(givenName ?? current.givenName, familyName ?? current.familyName).slice(0, NAME_MAX) };
  }
  return change;
}
