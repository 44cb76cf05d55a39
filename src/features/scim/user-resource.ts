// A Keyturn user as a SCIM User resource (RFC 7643 §4.1) and back. Keyturn keeps one address and one
// name per user, so: userName is the email (and emails[] shows it once, as the primary work
// address); displayName, name.formatted, or name.givenName + name.familyName become the one name;
// active is "not disabled"; externalId is the identity provider's id, unique in the tenant.
import { z } from 'zod';
import type { User } from '../accounts/accounts.ts';
import { parseEmail } from '../accounts/email.ts';
import { invalidSyntax, invalidValue } from './errors.ts';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const NAME_MAX = 200;
export const EXTERNAL_ID_MAX = 255;

/** The parts of a one-string name: the first word, and the rest (how a name shows as givenName/familyName). */
export function nameParts(name: string): { givenName: string; familyName: string } {
  const trimmed = name.trim();
  const space = trimmed.indexOf(' ');
  return space < 0 ? { givenName: trimmed, familyName: '' } : { givenName: trimmed.slice(0, space), familyName: trimmed.slice(space + 1).trim() };
}

export const joinName = (givenName: string, familyName: string) => [givenName.trim(), familyName.trim()].filter(Boolean).join(' ');

export function toScimUser(user: User, location: string) {
  const { givenName, familyName } = nameParts(user.name);
  const modified = user.updatedAt && user.updatedAt > user.createdAt ? user.updatedAt : user.createdAt;
  return {
    schemas: [USER_SCHEMA],
    id: user.id,
    ...(user.externalId !== null ? { externalId: user.externalId } : {}),
    userName: user.email,
    name: { formatted: user.name, ...(givenName ? { givenName } : {}), ...(familyName ? { familyName } : {}) },
    displayName: user.name,
    emails: [{ value: user.email, type: 'work', primary: true }],
    active: user.disabledAt === null,
    meta: { resourceType: 'User', created: user.createdAt.toISOString(), lastModified: modified.toISOString(), location },
  };
}

/** Entra ID sends booleans as "True"/"False" in places; both forms mean the same. */
export function booleanOf(value: unknown, field: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw invalidValue(`${field}: must be true or false.`);
}

const text = (max: number) => z.string().max(max).nullable().optional();
/** What POST and PUT read of a User resource; everything else (groups, roles, password, locale, extensions) is ignored. */
const UserResource = z.looseObject({
  userName: z.string().max(254),
  externalId: text(EXTERNAL_ID_MAX),
  displayName: text(NAME_MAX),
  name: z.looseObject({ formatted: text(NAME_MAX), givenName: text(NAME_MAX), familyName: text(NAME_MAX) }).nullable().optional(),
  active: z.unknown().optional(),
});

export interface UserInput { email: string; name?: string; externalId?: string | null; active?: boolean; }

/** The name a resource gives: displayName, else name.formatted, else givenName + familyName; undefined when it gives none. */
export function nameOf(r: { displayName?: string | null; name?: { formatted?: string | null; givenName?: string | null; familyName?: string | null } | null }): string | undefined {
  if (r.displayName?.trim()) return r.displayName.trim();
  if (r.name?.formatted?.trim()) return r.name.formatted.trim();
  const joined = joinName(r.name?.givenName ?? '', r.name?.familyName ?? '');
  return joined || undefined;
}

export function emailOf(value: string, field = 'userName'): string {
  const email = parseEmail(value);
  if (!email) throw invalidValue(`${field}: must be the user's email address (one address).`);
  return email;
}

/** A User resource (POST, PUT) as what Keyturn keeps. Attributes left out are undefined (PUT keeps them). */
export function parseUserResource(body: unknown): UserInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a JSON object (a User resource).');
  const parsed = UserResource.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalidValue(`${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  const r = parsed.data;
  return {
    email: emailOf(r.userName),
    name: nameOf(r),
    externalId: r.externalId === undefined ? undefined : r.externalId?.trim() || null,
    active: r.active === undefined ? undefined : booleanOf(r.active, 'active'),
  };
}
