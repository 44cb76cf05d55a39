// /admin/scim in English and German: the tenant's SCIM tokens for Okta or Entra ID (made, shown
// once, revoked). German in the Sie-Form like de.ts; scimDe has every key of scimEn (the type checks it).

export const scimEn = {
  nav: 'Provisioning',
  title: 'Provisioning (SCIM)',
  intro: 'Your identity provider (Okta, Microsoft Entra ID) can create, update and deactivate your people here over SCIM 2.0. Deactivating someone there disables their account here and signs them out of everything at once.',
  baseUrl: 'SCIM base URL (Okta: "SCIM connector base URL"; Entra ID: "Tenant URL")',
  tokensHeading: 'Tokens',
  none: 'No token yet: make one, then paste it into your identity provider.',
  colLabel: 'Label', colCreated: 'Made', colLastUsed: 'Last used', colActions: 'Actions',
  unlabelled: '(no label)',
  revoke: 'Revoke',
  revokeConfirm: 'Revoke this token? Your identity provider can no longer provision with it.',
  addHeading: 'Make a token',
  label: 'Label (optional)',
  labelHint: 'What it is for, e.g. "Okta production".',
  add: 'Make token',
  tokenTitle: 'The new token',
  tokenText: 'Copy it now into your identity provider (Okta: "Bearer token"; Entra ID: "Secret Token"): it is shown only this once.',
  tokenCopied: 'I have copied it',
  done: { revoked: 'The token was revoked.' } as Record<string, string | undefined>,
};

export const scimDe: typeof scimEn = {
  nav: 'Bereitstellung',
  title: 'Bereitstellung (SCIM)',
  intro: 'Ihr Identitätsanbieter (Okta, Microsoft Entra ID) kann Ihre Personen hier über SCIM 2.0 anlegen, ändern und deaktivieren. Wer dort deaktiviert wird, ist hier sofort gesperrt und überall abgemeldet.',
  baseUrl: 'SCIM-Basis-URL (Okta: „SCIM connector base URL“; Entra ID: „Mandanten-URL“)',
  tokensHeading: 'Tokens',
  none: 'Noch kein Token: Erstellen Sie eines und fügen Sie es bei Ihrem Identitätsanbieter ein.',
  colLabel: 'Bezeichnung', colCreated: 'Erstellt', colLastUsed: 'Zuletzt benutzt', colActions: 'Aktionen',
  unlabelled: '(ohne Bezeichnung)',
  revoke: 'Widerrufen',
  revokeConfirm: 'Dieses Token widerrufen? Ihr Identitätsanbieter kann damit nichts mehr bereitstellen.',
  addHeading: 'Token erstellen',
  label: 'Bezeichnung (optional)',
  labelHint: 'Wofür es ist, z. B. „Okta Produktion“.',
  add: 'Token erstellen',
  tokenTitle: 'Das neue Token',
  tokenText: 'Kopieren Sie es jetzt zu Ihrem Identitätsanbieter (Okta: „Bearer token“; Entra ID: „Geheimes Token“): es wird nur dieses eine Mal angezeigt.',
  tokenCopied: 'Ich habe es kopiert',
  done: { revoked: 'Das Token wurde widerrufen.' },
};
