// The words of the audit log's sentences (sentences.ts is the grammar), in English and German.
// English is also the `text` of every event in the JSON API. German in the Sie-Form, in the perfect
// tense ("Ann (Administrator) hat … deaktiviert."); auditSentencesDe has every type of the English.
import type { Said, SentenceTexts } from './sentences.ts';

const str = (x: unknown) => (typeof x === 'string' || typeof x === 'number' ? String(x) : '');
const num = (x: unknown) => (typeof x === 'number' ? x : Array.isArray(x) ? x.length : undefined);
const list = (x: unknown) => (Array.isArray(x) ? x.map(str).filter(Boolean).join(', ') : str(x));

const enRoles: Record<string, string> = { admin: 'admin', supervisor: 'supervisor', member: 'member' };
const enRoleA: Record<string, string> = { admin: 'an admin', supervisor: 'a supervisor', member: 'a member' };
const enFactor: Record<string, string> = { totp: 'an authenticator app', webauthn: 'a security key', recovery_code: 'a recovery code' };
const enN = (n: number | undefined, one: string, many: string) => (n === undefined ? many : `${n} ${n === 1 ? one : many}`);
const enLabel = (d: Record<string, unknown>) => (str(d.label) ? ` (“${str(d.label)}”)` : '');

export const auditSentencesEn: SentenceTexts = {
  operator: 'the operator',
  scim: 'SCIM provisioning',
  keyturn: 'Keyturn',
  someone: 'someone',
  anAdmin: 'an admin',
  erased: (id) => `an erased user (#${id})`,
  withRole: (name, role) => `${name} (${role})`,
  roles: enRoles,
  reason: (text) => ` — reason: ${text}`,
  reasonCodes: {
    sso_enforced: 'this organisation signs in with single sign-on only',
    account_disabled: 'the account is disabled',
    failing: 'it kept failing',
    account_failure_budget: 'too many wrong passwords',
  },
  types: {
    user_created: ({ who, whom, d }) => `${who} added ${whom}${d.role ? ` as ${enRoleA[str(d.role)] ?? str(d.role)}` : ''}`,
    users_imported: ({ who, d }) => `${who} imported ${enN(num(d.created), 'user', 'users')}${num(d.skipped) ? ` (${enN(num(d.skipped), 'row', 'rows')} skipped)` : ''}`,
    user_renamed: ({ who, whom, self }) => (self ? `${who} changed their name` : `${who} changed the name of ${whom}`),
    // An erased person's lines keep no addresses (accounts/erase.ts): then the sentence names none.
    email_changed: ({ who, whom, d }) => (str(d.from) && str(d.to) ? `${who} changed the email address ${str(d.from)} to ${str(d.to)}` : `${who} changed the email address of ${whom}`),
    role_changed: ({ who, whom, d }) => `${who} changed the role of ${whom} from ${enRoles[str(d.from)] ?? str(d.from)} to ${enRoles[str(d.to)] ?? str(d.to)}`,
    user_disabled: ({ who, whom }) => `${who} disabled ${whom} and signed them out everywhere`,
    user_enabled: ({ who, whom }) => `${who} enabled ${whom} again`,
    user_locked: ({ who, whom, self, d }) => (self || d.via === 'this_wasnt_me'
      ? `${who} locked their account with the “this wasn’t me” link; everyone was signed out`
      : `${who} locked ${whom} and signed them out everywhere`),
    user_unlocked: ({ who, whom }) => `${who} unlocked ${whom}`,
    user_erased: ({ who, whom }) => `${who} erased ${whom}: personal data removed, sessions and app tokens revoked`,
    external_id_changed: ({ who, whom, d }) => `${who} changed the identity provider’s id of ${whom}${str(d.to) ? ` to ${str(d.to)}` : ''}`,
    sessions_revoked: ({ who, whom, self, d }) => (self
      ? `${who} signed out ${d.exceptCurrent ? `everywhere else (${enN(num(d.count), 'session', 'sessions')} ended)` : `everywhere (${enN(num(d.count), 'session', 'sessions')} ended)`}`
      : `${who} signed ${whom} out everywhere (${enN(num(d.count), 'session', 'sessions')} ended)`),
    session_ended: ({ who, d }) => `${who} signed out ${d.current ? 'on this device' : 'one device'}${str(d.device) ? ` (${str(d.device)})` : ''}`,
    signed_in: ({ who, d }) => `${who} signed in${d.method === 'google' ? ' with Google' : ''}${d.secondFactor ? ` with ${enFactor[str(d.secondFactor)] ?? str(d.secondFactor)} as second step` : ''}${d.enrolled ? ` after adding ${enFactor[str(d.enrolled)] ?? str(d.enrolled)}` : ''}`,
    signed_out: ({ who }) => `${who} signed out`,
    sign_in_paused: ({ whom }) => `Sign-in to ${whom} was paused for a while`,
    password_reset_requested: ({ whom }) => `A reset email was requested for ${whom}`,
    password_reset_coalesced: ({ whom }) => `Another reset was requested for ${whom} right after the last one; the email already sent stays valid`,
    password_reset_refused: ({ whom }) => `A reset was requested for ${whom} and refused`,
    admin_reset_issued: ({ who, whom, d }) => {
      const what = d.kind === 'welcome' ? 'a welcome link' : 'a reset link';
      return d.delivery === 'link' ? `${who} made ${what} to hand to ${whom}` : `${who} sent ${what} to ${whom}`;
    },
    password_reset_completed: ({ who, self, whom }) => `${self ? who : whom} set a new password with a reset link and was signed out everywhere`,
    password_changed: ({ who, d }) => `${who} changed their password${d.sessionsRevoked === 'others' ? '; their other sessions ended' : ''}`,
    identity_linked: ({ who, d }) => `${who} signed in with Google for the first time; the Google account${str(d.email) ? ` ${str(d.email)}` : ''} is now linked`,
    identity_unlinked: ({ who, whom, d }) => `${who} unlinked the Google account${str(d.emailAtLink) ? ` ${str(d.emailAtLink)}` : ''} from ${whom}${num(d.sessionsRevoked) ? ` (${enN(num(d.sessionsRevoked), 'session', 'sessions')} ended)` : ''}`,
    mfa_factor_added: ({ who, whom, self, d }) => `${who} added ${enFactor[str(d.type)] ?? str(d.type)}${enLabel(d)}${self ? '' : ` for ${whom}`}`,
    mfa_factor_removed: ({ who, whom, self, d }) => `${who} removed ${enFactor[str(d.type)] ?? str(d.type)}${enLabel(d)}${self ? '' : ` of ${whom}`}`,
    mfa_recovery_codes_renewed: ({ who }) => `${who} made new recovery codes; the old ones no longer work`,
    mfa_recovery_code_used: ({ who, d }) => `${who} used a recovery code (${enN(num(d.left), 'code', 'codes')} left)`,
    mfa_reset: ({ who, whom, d }) => `${who} reset two-step verification of ${whom}: ${enN(num(d.factorsRemoved), 'factor', 'factors')} removed, ${enN(num(d.sessionsRevoked), 'session', 'sessions')} ended`,
    tenant_created: ({ who, d }) => `${who} created the organisation ${str(d.slug)}`,
    tenant_updated: ({ who, d }) => `${who} changed the organisation’s settings${list(d.changed) ? ` (${list(d.changed)})` : ''}`,
    oidc_client_created: ({ who, d }) => `${who} registered the app ${str(d.name)} (${str(d.clientId)})`,
    oidc_client_deleted: ({ who, d }) => `${who} deleted the app ${str(d.clientId)}`,
    oidc_key_rotated: ({ who, d }) => `${who} added a new signing key (${str(d.kid)})`,
    webhook_created: ({ who, d }) => `${who} added the webhook endpoint ${str(d.url)}`,
    webhook_updated: ({ who, d }) => `${who} changed a webhook endpoint${list(d.changed) ? ` (${list(d.changed)})` : ''}${d.secretRotated ? ' and gave it a new secret' : ''}`,
    webhook_deleted: ({ who, d }) => `${who} deleted the webhook endpoint ${str(d.url)}`,
    webhook_disabled: ({ who, d }) => `${who} disabled the webhook endpoint ${str(d.url)}`,
    webhook_redelivered: ({ who }) => `${who} queued a webhook event for delivery again`,
    scim_token_created: ({ who, d }) => `${who} made a SCIM token${enLabel(d)}`,
    scim_token_revoked: ({ who, d }) => `${who} revoked a SCIM token${enLabel(d)}`,
  },
  generic: (type, { who, whom }) => `${who}: ${type.replace(/_/g, ' ')}${whom ? ` — ${whom}` : ''}`,
};

const deRoles: Record<string, string> = { admin: 'Administrator', supervisor: 'Supervisor', member: 'Mitglied' };
const deFactor: Record<string, string> = { totp: 'eine Authenticator-App', webauthn: 'einen Sicherheitsschlüssel', recovery_code: 'einen Wiederherstellungscode' };
const deFactorName: Record<string, string> = { totp: 'Authenticator-App', webauthn: 'Sicherheitsschlüssel', recovery_code: 'Wiederherstellungscode' };
const deN = (n: number | undefined, one: string, many: string) => (n === undefined ? many : `${n} ${n === 1 ? one : many}`);
const deLabel = (d: Record<string, unknown>) => (str(d.label) ? ` („${str(d.label)}“)` : '');
const sessionsDe = (d: unknown) => deN(num(d), 'Sitzung', 'Sitzungen');

export const auditSentencesDe: SentenceTexts = {
  operator: 'der Betreiber',
  scim: 'die SCIM-Bereitstellung',
  keyturn: 'Keyturn',
  someone: 'jemand',
  anAdmin: 'ein Administrator',
  erased: (id) => `ein gelöschter Benutzer (#${id})`,
  withRole: (name, role) => `${name} (${role})`,
  roles: deRoles,
  reason: (text) => ` — Grund: ${text}`,
  reasonCodes: {
    sso_enforced: 'diese Organisation meldet sich nur mit Single Sign-on an',
    account_disabled: 'das Konto ist deaktiviert',
    failing: 'er ist dauerhaft fehlgeschlagen',
    account_failure_budget: 'zu viele falsche Passwörter',
  },
  types: {
    user_created: ({ who, whom, d }) => `${who} hat ${whom}${d.role ? ` als ${deRoles[str(d.role)] ?? str(d.role)}` : ''} angelegt`,
    users_imported: ({ who, d }) => `${who} hat ${deN(num(d.created), 'Benutzer', 'Benutzer')} importiert${num(d.skipped) ? ` (${deN(num(d.skipped), 'Zeile', 'Zeilen')} übersprungen)` : ''}`,
    user_renamed: ({ who, whom, self }) => (self ? `${who} hat den eigenen Namen geändert` : `${who} hat den Namen von ${whom} geändert`),
    email_changed: ({ who, whom, d }) => (str(d.from) && str(d.to) ? `${who} hat die E-Mail-Adresse ${str(d.from)} in ${str(d.to)} geändert` : `${who} hat die E-Mail-Adresse von ${whom} geändert`),
    role_changed: ({ who, whom, d }) => `${who} hat die Rolle von ${whom} von ${deRoles[str(d.from)] ?? str(d.from)} in ${deRoles[str(d.to)] ?? str(d.to)} geändert`,
    user_disabled: ({ who, whom }) => `${who} hat ${whom} deaktiviert und überall abgemeldet`,
    user_enabled: ({ who, whom }) => `${who} hat ${whom} wieder aktiviert`,
    user_locked: ({ who, whom, self, d }) => (self || d.via === 'this_wasnt_me'
      ? `${who} hat das eigene Konto mit dem Link „Das war ich nicht“ gesperrt; alle wurden abgemeldet`
      : `${who} hat ${whom} gesperrt und überall abgemeldet`),
    user_unlocked: ({ who, whom }) => `${who} hat ${whom} entsperrt`,
    user_erased: ({ who, whom }) => `${who} hat ${whom} gelöscht: persönliche Daten entfernt, Sitzungen und App-Tokens widerrufen`,
    external_id_changed: ({ who, whom, d }) => `${who} hat die ID des Identitätsanbieters für ${whom} geändert${str(d.to) ? ` (jetzt ${str(d.to)})` : ''}`,
    sessions_revoked: ({ who, whom, self, d }) => (self
      ? `${who} hat sich ${d.exceptCurrent ? 'überall sonst' : 'überall'} abgemeldet (${sessionsDe(d.count)} beendet)`
      : `${who} hat ${whom} überall abgemeldet (${sessionsDe(d.count)} beendet)`),
    session_ended: ({ who, d }) => `${who} hat sich ${d.current ? 'auf diesem Gerät' : 'auf einem Gerät'} abgemeldet${str(d.device) ? ` (${str(d.device)})` : ''}`,
    signed_in: ({ who, d }) => `${who} hat sich${d.method === 'google' ? ' mit Google' : ''} angemeldet${d.secondFactor ? ` (zweiter Schritt: ${deFactorName[str(d.secondFactor)] ?? str(d.secondFactor)})` : ''}${d.enrolled ? ` (neu eingerichtet: ${deFactorName[str(d.enrolled)] ?? str(d.enrolled)})` : ''}`,
    signed_out: ({ who }) => `${who} hat sich abgemeldet`,
    sign_in_paused: ({ whom }) => `Die Anmeldung bei ${whom} wurde für eine Weile angehalten`,
    password_reset_requested: ({ whom }) => `Für ${whom} wurde eine Reset-E-Mail angefordert`,
    password_reset_coalesced: ({ whom }) => `Für ${whom} wurde kurz nach dem letzten erneut ein Reset angefordert; die schon gesendete E-Mail bleibt gültig`,
    password_reset_refused: ({ whom }) => `Für ${whom} wurde ein Reset angefordert und abgelehnt`,
    admin_reset_issued: ({ who, whom, d }) => {
      const what = d.kind === 'welcome' ? 'einen Willkommenslink' : 'einen Reset-Link';
      return d.delivery === 'link' ? `${who} hat ${what} zur Übergabe an ${whom} erstellt` : `${who} hat ${what} an ${whom} gesendet`;
    },
    password_reset_completed: ({ who, self, whom }) => `${self ? who : whom} hat mit einem Reset-Link ein neues Passwort gesetzt und wurde überall abgemeldet`,
    password_changed: ({ who, d }) => `${who} hat das Passwort geändert${d.sessionsRevoked === 'others' ? '; die anderen Sitzungen wurden beendet' : ''}`,
    identity_linked: ({ who, d }) => `${who} hat sich zum ersten Mal mit Google angemeldet; das Google-Konto${str(d.email) ? ` ${str(d.email)}` : ''} ist jetzt verknüpft`,
    identity_unlinked: ({ who, whom, d }) => `${who} hat die Verknüpfung des Google-Kontos${str(d.emailAtLink) ? ` ${str(d.emailAtLink)}` : ''} mit ${whom} gelöst${num(d.sessionsRevoked) ? ` (${sessionsDe(d.sessionsRevoked)} beendet)` : ''}`,
    mfa_factor_added: ({ who, whom, self, d }) => `${who} hat ${deFactor[str(d.type)] ?? str(d.type)}${deLabel(d)}${self ? '' : ` für ${whom}`} hinzugefügt`,
    mfa_factor_removed: ({ who, whom, self, d }) => `${who} hat ${deFactor[str(d.type)] ?? str(d.type)}${deLabel(d)}${self ? '' : ` von ${whom}`} entfernt`,
    mfa_recovery_codes_renewed: ({ who }) => `${who} hat neue Wiederherstellungscodes erstellt; die alten gelten nicht mehr`,
    mfa_recovery_code_used: ({ who, d }) => `${who} hat einen Wiederherstellungscode benutzt (${deN(num(d.left), 'Code', 'Codes')} übrig)`,
    mfa_reset: ({ who, whom, d }) => `${who} hat die Zwei-Schritt-Verifizierung von ${whom} zurückgesetzt: ${deN(num(d.factorsRemoved), 'Faktor', 'Faktoren')} entfernt, ${sessionsDe(d.sessionsRevoked)} beendet`,
    tenant_created: ({ who, d }) => `${who} hat die Organisation ${str(d.slug)} angelegt`,
    tenant_updated: ({ who, d }) => `${who} hat die Einstellungen der Organisation geändert${list(d.changed) ? ` (${list(d.changed)})` : ''}`,
    oidc_client_created: ({ who, d }) => `${who} hat die App ${str(d.name)} (${str(d.clientId)}) registriert`,
    oidc_client_deleted: ({ who, d }) => `${who} hat die App ${str(d.clientId)} gelöscht`,
    oidc_key_rotated: ({ who, d }) => `${who} hat einen neuen Signaturschlüssel hinzugefügt (${str(d.kid)})`,
    webhook_created: ({ who, d }) => `${who} hat den Webhook-Endpunkt ${str(d.url)} hinzugefügt`,
    webhook_updated: ({ who, d }) => `${who} hat einen Webhook-Endpunkt geändert${list(d.changed) ? ` (${list(d.changed)})` : ''}${d.secretRotated ? ' und ihm ein neues Geheimnis gegeben' : ''}`,
    webhook_deleted: ({ who, d }) => `${who} hat den Webhook-Endpunkt ${str(d.url)} gelöscht`,
    webhook_disabled: ({ who, d }) => `${who} hat den Webhook-Endpunkt ${str(d.url)} deaktiviert`,
    webhook_redelivered: ({ who }) => `${who} hat ein Webhook-Ereignis erneut zur Zustellung eingereiht`,
    scim_token_created: ({ who, d }) => `${who} hat ein SCIM-Token erstellt${deLabel(d)}`,
    scim_token_revoked: ({ who, d }) => `${who} hat ein SCIM-Token widerrufen${deLabel(d)}`,
  },
  generic: (type, { who, whom }: Said) => `${who}: ${type.replace(/_/g, ' ')}${whom ? ` — ${whom}` : ''}`,
};
