// The audit log as sentences for people: "Ann (admin) sent a reset link to ben@example.com — reason:
// locked out on the floor". This module is the grammar (who, to whom, what, why); the words are a
// catalogue per language (sentence-texts.ts), English for the JSON API's `text`, English or German
// on the console. The people of a page are looked up in one query.
import type { Ctx } from '../../context.ts';
import { peopleById, type Person } from '../accounts/accounts.ts';
import type { Tenant } from '../tenants/store.ts';
import type { AuditView } from './audit.ts';

/** What a catalogue's sentence for one type is made of. */
export interface Said {
  /** Who did it, as a sentence starts: "Ann (admin)", "The operator", "ben@example.com" (themselves). */
  who: string;
  /** To whom (the event's user): their address, "an erased user (#1a2b3c4d)", or '' when none. */
  whom: string;
  /** The person acted on themselves (signed in, changed their password …). */
  self: boolean;
  /** The event's data, as written. */
  d: Record<string, unknown>;
}

export interface SentenceTexts {
  operator: string;
  scim: string;
  keyturn: string;
  /** A person who did not say who they are (asked for a reset by email). */
  someone: string;
  /** A tenant admin of an event that did not keep the id. */
  anAdmin: string;
  erased: (shortId: string) => string;
  withRole: (name: string, role: string) => string;
  roles: Record<string, string>;
  reason: (text: string) => string;
  /** Reasons written as codes (password_reset_refused, webhook_disabled, sign_in_paused), in words. */
  reasonCodes: Record<string, string>;
  types: Record<string, (s: Said) => string>;
  /** A type without a sentence yet: still one a person can read. */
  generic: (type: string, s: Said) => string;
}

/** The types whose `data.reason` is a code, not the words of the person who acted. */
const CODED_REASONS = new Set(['password_reset_refused', 'webhook_disabled', 'sign_in_paused']);

/** Phrases start a sentence with a capital; an address stays as it is written. */
const capitalised = (s: string) => (s.includes('@') ? s : s.charAt(0).toUpperCase() + s.slice(1));

function targetOf(e: AuditView, people: ReadonlyMap<string, Person>, t: SentenceTexts): string {
  if (!e.userId) return '';
  return people.get(e.userId)?.email ?? t.erased(e.userId.slice(0, 8));
}

/**
 * The person acted on their own account. A user-type actor always is its owner, even where the id is
 * another account of theirs (a reset for several tenants names the first account's id).
 */
const actsOnSelf = (e: AuditView) => !!e.userId && !!e.actor.id && (e.actor.type === 'user' || e.actor.id === e.userId);

function actorOf(e: AuditView, people: ReadonlyMap<string, Person>, t: SentenceTexts, whom: string): string {
  const { type, id } = e.actor;
  if (type === 'operator') return capitalised(t.operator);
  if (type === 'system') return capitalised(id?.startsWith('scim:') ? t.scim : t.keyturn);
  if (actsOnSelf(e)) return capitalised(whom);
  if (!id) return capitalised(type === 'admin' ? t.anAdmin : t.someone);
  const p = people.get(id);
  if (!p) return capitalised(t.erased(id.slice(0, 8)));
  return t.withRole(p.name || p.email, t.roles[p.role] ?? p.role);
}

/** One event as one sentence, with its reason when the event has one. */
export function auditSentence(e: AuditView, people: ReadonlyMap<string, Person>, t: SentenceTexts): string {
  const whom = targetOf(e, people, t);
  const d = (e.data ?? {}) as Record<string, unknown>;
  const said: Said = { who: actorOf(e, people, t, whom), whom, self: actsOnSelf(e), d };
  const sentence = t.types[e.type]?.(said) ?? t.generic(e.type, said);
  const reason = typeof d.reason === 'string' && d.reason.trim() ? d.reason.trim() : '';
  if (!reason) return sentence;
  return sentence + t.reason(CODED_REASONS.has(e.type) ? t.reasonCodes[reason] ?? reason : reason);
}

/** The ids of the people a page of events names: its users and the people who acted. */
export const peopleIn = (events: AuditView[]) =>
  events.flatMap((e) => [e.userId, e.actor.type === 'user' || e.actor.type === 'admin' ? e.actor.id : null]);

/**
 * A page of events, each with its sentence (`text`). The people are looked up in one query: within
 * the tenant, or (tenant null, the operator's list across tenants) wherever they are.
 */
export async function withSentences<E extends AuditView>(ctx: Pick<Ctx, 'db'>, tenant: Tenant | null, events: E[], t: SentenceTexts): Promise<(E & { text: string })[]> {
  const people = await peopleById(ctx, tenant, peopleIn(events));
  return events.map((e) => ({ ...e, text: auditSentence(e, people, t) }));
}

export const AUDIT_TOPICS = ['accounts', 'signIn', 'passwords', 'mfa', 'organisation'] as const;
export type AuditTopic = (typeof AUDIT_TOPICS)[number];

/** Where a type belongs in the console's grouped list; a new type finds its group by its name. */
export function auditTopic(type: string): AuditTopic {
  if (type.startsWith('mfa_')) return 'mfa';
  if (type.startsWith('password_') || type === 'admin_reset_issued') return 'passwords';
  if (/^(tenant|webhook|oidc|scim)_/.test(type)) return 'organisation';
  if (/^(signed_|sign_in|session|identity_)/.test(type)) return 'signIn';
  return 'accounts';
}
