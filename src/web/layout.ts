// The page shell and the small building blocks every page uses (fields, alerts, buttons, times).
// Pages are plain forms that work without JavaScript; /assets/app.js only enhances them.
import { Html, html, type Part } from './html.ts';
import type { Messages } from './i18n/index.ts';
import { formatTime } from './i18n/index.ts';

/** A tenant's look on its pages (its `brand`): it takes the place of Keyturn's wordmark; see brand.ts. */
export interface PageBrand {
  slug: string;
  /** The wordmark's text, or the logo's accessible name. */
  name: string;
  /** Served as /t/{slug}/brand.css when the tenant chose a colour. */
  colour: boolean;
  logoUrl: string | null;
  /** The logo's origin: sendPage allows images from it on this page only (PUBLIC_URL's is 'self' anyway). */
  logoOrigin: string | null;
}

/** A whole page, and the one other origin its images may come from (a tenant's logo). */
export class PageHtml extends Html {
  constructor(value: string, readonly imageOrigin: string | null) {
    super(value);
  }
}

export interface PageInput {
  m: Messages;
  title: string;
  body: Part;
  /** Extra <head> elements (e.g. a meta refresh). */
  head?: Part;
  /** Wider card for tables (dev mailbox, admin console). */
  wide?: boolean;
  brand?: PageBrand;
  /** Above the card's heading: the admin console's navigation. */
  nav?: Part;
}

// Every page is served with Referrer-Policy: no-referrer (platform/security-headers.ts); the origin check in
// platform/http.ts accepts the `Origin: null` that browsers then send on our own form posts.
export function page({ m, title, body, head, wide, brand, nav }: PageInput): PageHtml {
  return new PageHtml(html`<!doctype html>
<html lang="${m.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${title} · ${brand?.name ?? m.titleSuffix}</title>
<link rel="icon" href="/favicon.ico" sizes="16x16 32x32">
<link rel="stylesheet" href="/assets/app.css">
${brand?.colour ? html`<link rel="stylesheet" href="/t/${brand.slug}/brand.css">` : ''}
<script type="module" src="/assets/app.js"></script>
${head}
</head>
<body data-i18n-show="${m.showPassword}" data-i18n-hide="${m.hidePassword}" data-i18n-met="${m.ruleMet}" data-i18n-not-met="${m.ruleNotMet}" data-i18n-confirm="${m.admin.confirm}" data-i18n-cancel="${m.admin.cancel}">
<a class="skip-link" href="#main">${m.skipToContent}</a>
<header class="site-header">
${brand ? tenantMark(brand) : html`<span class="brand"><span class="brand-mark" aria-hidden="true"></span>${m.appName}</span>`}
</header>
<main id="main" class="${wide ? 'card card-wide' : 'card'}" tabindex="-1">
${nav}
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.value, brand?.logoOrigin ?? null);
}

/** The tenant's logo, or its name set like a wordmark, where Keyturn's would be. */
const tenantMark = (brand: PageBrand) => (brand.logoUrl
  ? html`<img class="brand-logo" src="${brand.logoUrl}" alt="${brand.name}">`
  : html`<span class="brand brand-tenant">${brand.name}</span>`);

export type AlertKind = 'error' | 'success' | 'info';

/** Errors are announced at once (role=alert); the others politely (role=status). */
export function alert(kind: AlertKind, content: Part, id?: string): Html {
  const role = kind === 'error' ? 'alert' : 'status';
  return html`<div class="alert alert-${kind}" role="${role}"${id ? html` id="${id}"` : ''}>${content}</div>`;
}

export interface FieldInput {
  id: string;
  name: string;
  label: string;
  type: 'email' | 'password' | 'text';
  value?: string;
  autocomplete: string;
  required?: boolean;
  hint?: string;
  error?: string;
  /** Ids of further elements describing the input (e.g. the rules list). */
  describedBy?: string[];
  /** Extra trusted attributes, e.g. data-new-password. */
  attrs?: Html;
  /** Markup placed right after the input (e.g. the "Forgot password?" link). */
  after?: Part;
  autofocus?: boolean;
  inputmode?: string;
}

export function field(f: FieldInput): Html {
  const hintId = `${f.id}-hint`;
  const errorId = `${f.id}-error`;
  const describedBy = [...(f.hint ? [hintId] : []), ...(f.error ? [errorId] : []), ...(f.describedBy ?? [])];
  return html`<div class="field${f.error ? ' field-invalid' : ''}">
<label for="${f.id}">${f.label}</label>
${f.hint ? html`<p class="hint" id="${hintId}">${f.hint}</p>` : ''}
${f.error ? html`<p class="field-error" id="${errorId}">${f.error}</p>` : ''}
<input id="${f.id}" name="${f.name}" type="${f.type}" autocomplete="${f.autocomplete}"${f.value !== undefined && f.type !== 'password' ? html` value="${f.value}"` : ''}${f.required === false ? '' : html` required`}${describedBy.length ? html` aria-describedby="${describedBy.join(' ')}"` : ''}${f.error ? html` aria-invalid="true"` : ''}${f.autofocus ? html` autofocus` : ''}${f.inputmode ? html` inputmode="${f.inputmode}"` : ''}${f.type === 'email' || f.type === 'text' ? html` spellcheck="false" autocapitalize="off"` : ''}${f.attrs ?? ''}>
${f.after}
</div>`;
}

export const submit = (label: string, attrs: Part = '') => html`<button class="btn btn-primary" type="submit"${attrs}>${label}</button>`;

export const linkButton = (href: string, label: string, kind: 'primary' | 'secondary' = 'primary') =>
  html`<a class="btn btn-${kind}" href="${href}">${label}</a>`;

/** A time people in any zone can read; the client script rewrites it to the reader's local time. */
export function time(m: Messages, at: Date, now: Date): Html {
  return html`<time datetime="${at.toISOString()}" data-local-time>${formatTime(m, at, now)}</time>`;
}

/** Small links under a form ("Back to sign-in"). */
export function links(items: { href: string; label: string }[]): Html {
  return html`<ul class="links">${items.map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`)}</ul>`;
}

/** A POST form; the origin check in app.ts guards it, session forms add _csrf. */
export function form(action: string, content: Part, attrs: Part = ''): Html {
  return html`<form method="post" action="${action}" novalidate${attrs}>${content}</form>`;
}
