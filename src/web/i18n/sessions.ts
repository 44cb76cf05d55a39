// /settings/sessions in English and German: the devices signed in to an account. German in the
// Sie-Form like de.ts; sessionsDe has every key of sessionsEn (the type checks it).

export const sessionsEn = {
  link: 'Signed-in devices',
  title: 'Signed-in devices',
  intro: 'The browsers and apps signed in to your account. If you do not recognise one, sign it out and change your password.',
  thisDevice: 'This device',
  ip: 'IP address',
  started: 'Signed in',
  lastUsed: 'Last used',
  app: (name: string) => `App: ${name}`,
  signOut: 'Sign out',
  signOutNamed: (device: string) => `Sign out ${device}`,
  signOutConfirm: (device: string) => `Sign out ${device}? It has to sign in again to get back in.`,
  othersHeading: 'Everywhere else',
  othersText: 'Signs out every device but this one.',
  others: 'Sign out everywhere else',
  othersConfirm: 'Sign out every other device? They have to sign in again to get back in.',
  noOthers: 'No other device is signed in.',
  gone: 'That device is no longer signed in.',
  done: {
    ended: 'The device was signed out.',
    others: 'Every other device was signed out.',
  },
};

export const sessionsDe: typeof sessionsEn = {
  link: 'Angemeldete Geräte',
  title: 'Angemeldete Geräte',
  intro: 'Die Browser und Apps, die bei Ihrem Konto angemeldet sind. Erkennen Sie eines nicht, melden Sie es ab und ändern Sie Ihr Passwort.',
  thisDevice: 'Dieses Gerät',
  ip: 'IP-Adresse',
  started: 'Angemeldet',
  lastUsed: 'Zuletzt verwendet',
  app: (name: string) => `App: ${name}`,
  signOut: 'Abmelden',
  signOutNamed: (device: string) => `${device} abmelden`,
  signOutConfirm: (device: string) => `${device} abmelden? Dort muss man sich neu anmelden, um wieder hineinzukommen.`,
  othersHeading: 'Überall sonst',
  othersText: 'Meldet alle Geräte außer diesem ab.',
  others: 'Überall sonst abmelden',
  othersConfirm: 'Alle anderen Geräte abmelden? Dort muss man sich neu anmelden, um wieder hineinzukommen.',
  noOthers: 'Kein anderes Gerät ist angemeldet.',
  gone: 'Dieses Gerät ist nicht mehr angemeldet.',
  done: {
    ended: 'Das Gerät wurde abgemeldet.',
    others: 'Alle anderen Geräte wurden abgemeldet.',
  },
};
