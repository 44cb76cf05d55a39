// /admin/audit in English and German: the audit log as sentences, its filters and the raw event.
// The sentences themselves are features/audit/sentence-texts.ts (the JSON API speaks them too);
// the labels of the event types are m.admin.eventTypes, with the newer types here. auditLogDe has
// every key of auditLogEn (the type checks it).
import { auditSentencesDe, auditSentencesEn } from '../../features/audit/sentence-texts.ts';

export const auditLogEn = {
  sentences: auditSentencesEn,
  intro: 'Everything that happened to the accounts and settings of your organisation, newest first: who did it, to whom, and why.',
  colEvent: 'What happened',
  raw: 'Raw event',
  actor: 'Done by',
  actors: {
    '': 'Anyone', user: 'The person themselves', admin: 'Admins and supervisors', operator: 'The operator', system: 'Keyturn and SCIM provisioning',
  } as Record<string, string>,
  from: 'From (date)',
  to: 'To (date)',
  badDate: 'Enter a date such as 2025-05-01.',
  topics: { accounts: 'Accounts', signIn: 'Sign-in and sessions', passwords: 'Passwords', mfa: 'Two-step verification', organisation: 'Organisation and integrations' },
  moreTypes: {
    sign_in_paused: 'Sign-in paused', external_id_changed: 'Identity provider id changed',
    oidc_client_created: 'App registered', oidc_client_deleted: 'App deleted', oidc_key_rotated: 'Signing key added',
    scim_token_created: 'SCIM token made', scim_token_revoked: 'SCIM token revoked', user_erased: 'User erased',
  } as Record<string, string>,
};

export const auditLogDe: typeof auditLogEn = {
  sentences: auditSentencesDe,
  intro: 'Alles, was mit den Konten und Einstellungen Ihrer Organisation geschehen ist, neueste zuerst: wer es getan hat, für wen und warum.',
  colEvent: 'Was geschah',
  raw: 'Rohdaten des Ereignisses',
  actor: 'Ausgeführt von',
  actors: {
    '': 'Allen', user: 'Der Person selbst', admin: 'Administratoren und Supervisoren', operator: 'Dem Betreiber', system: 'Keyturn und SCIM-Bereitstellung',
  },
  from: 'Von (Datum)',
  to: 'Bis (Datum)',
  badDate: 'Geben Sie ein Datum wie 2025-05-01 ein.',
  topics: { accounts: 'Konten', signIn: 'Anmeldung und Sitzungen', passwords: 'Passwörter', mfa: 'Zwei-Schritt-Verifizierung', organisation: 'Organisation und Integrationen' },
  moreTypes: {
    sign_in_paused: 'Anmeldung angehalten', external_id_changed: 'ID beim Identitätsanbieter geändert',
    oidc_client_created: 'App registriert', oidc_client_deleted: 'App gelöscht', oidc_key_rotated: 'Signaturschlüssel hinzugefügt',
    scim_token_created: 'SCIM-Token erstellt', scim_token_revoked: 'SCIM-Token widerrufen', user_erased: 'Benutzer gelöscht',
  },
};
