// A tenant's own settings beside its Google connection, all kept in `tenants.settings`: how long
// its reset links live, who its mail comes from, and how its pages and emails look. Anything unset
// falls back to the deployment's configuration (RESET_TOKEN_TTL, ADMIN_RESET_TOKEN_TTL, MAIL_FROM).
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { parseDuration, type Config } from '../../config.ts';
import { invalidRequest } from '../../errors.ts';
import { isSingleLine } from '../../platform/mail/transport.ts';
import { parseEmail } from '../accounts/email.ts';
import type { Tenant } from './store.ts';

const MIN_TTL_MS = 5 * 60_000;
const MAX_TTL_MS = 30 * 86_400_000;
const COLOUR = /^#[0-9a-fA-F]{6}$/;
// Printable text only: a display name ends up in a mail header.
const PRINTABLE = /^[^\p{Cc}\p{Cf}]*$/u;
const BRAND_NAME = z.string().trim().min(1).max(100).regex(PRINTABLE, 'must be printable text');

/** The PATCH /admin/v1/tenants/{slug} fields; `null` goes back to the default. */
export const SettingsPatch = {
  resetTokenTtl: z.string().max(20).nullable().optional(),
  adminResetTokenTtl: z.string().max(20).nullable().optional(),
  sender: z.object({
    // The mailer refuses a From header that is not one line (U+2028 too): that would stop all of the tenant's mail.
    name: z.string().min(1).max(100).regex(PRINTABLE, 'must be printable text')
      .refine(isSingleLine, 'must be a single line (no line or paragraph separator)').optional(),
    address: z.string().max(254).optional(),
  }).nullable().optional(),
  // How the tenant's pages and emails look (CONTRACT §11); `null` goes back to Keyturn's look.
  brand: z.object({
    name: BRAND_NAME,
    logoUrl: z.string().max(2000).nullable().optional()
      .describe('an https:// address (its origin is then allowed for images on this tenant\'s pages only) or a path on PUBLIC_URL'),
    color: z.string().regex(COLOUR, 'must be a colour like #1f4ed8').nullable().optional(),
  }).nullable().optional().describe('Replaces Keyturn\'s wordmark on the tenant\'s pages and emails; null removes it.'),
  /** @deprecated the old name of `brand` (with `colour`); still accepted. */
  branding: z.object({
    name: BRAND_NAME.optional(),
    colour: z.string().regex(COLOUR, 'must be a colour like #1f4ed8').optional(),
    logoUrl: z.string().max(2000).optional(),
  }).nullable().optional().describe('Deprecated: the old name of `brand` (with `colour` for `color`); still accepted.'),
  // The tenant's offices (CIDRs): requests naming the tenant from there get the larger per-network
  // budgets instead of per-IP ones, so one egress address for a whole floor does not stop it.
  trustedNetworks: z.array(z.string().max(50)).max(50).nullable().optional(),
  // Who must have a second factor before getting a session (CONTRACT §7).
  mfa: z.enum(['optional', 'admins', 'everyone']).nullable().optional(),
  // Google sign-in counts as both factors only when the tenant trusts its IdP to have asked for one.
  trustIdpMfa: z.boolean().nullable().optional(),
  // SCIM provisioning (CONTRACT §11): whether a user the identity provider creates gets the welcome email.
  scim: z.object({ sendWelcome: z.boolean() }).nullable().optional().describe('SCIM provisioning: `sendWelcome` (default true) emails each user created over SCIM a link to set a password; null goes back to the default.'),
};
const PatchObject = z.object(SettingsPatch);
export type SettingsPatchInput = z.infer<typeof PatchObject>;

const Stored = z.object({
  resetTokenTtl: z.string().optional(),
  adminResetTokenTtl: z.string().optional(),
  sender: z.object({ name: z.string().optional(), address: z.string().optional() }).optional(),
  branding: z.object({ name: z.string().optional(), colour: z.string().optional(), logoUrl: z.string().optional() }).optional(),
  trustedNetworks: z.array(z.string()).optional(),
  mfa: z.enum(['optional', 'admins', 'everyone']).optional(),
  trustIdpMfa: z.boolean().optional(),
  scim: z.object({ sendWelcome: z.boolean().optional() }).optional(),
});
type Stored = z.infer<typeof Stored>;

function stored(tenant: Pick<Tenant, 'settings'>): Stored {
  const parsed = Stored.safeParse(tenant.settings);
  return parsed.success ? parsed.data : {};
}

const ttlMs = (value: string | undefined) => (value === undefined ? null : parseDuration(value));

/** Lifetime of a self-service reset link of this tenant. */
export const resetTtlMs = (config: Pick<Config, 'resetTokenTtlMs'>, tenant: Pick<Tenant, 'settings'>) =>
  ttlMs(stored(tenant).resetTokenTtl) ?? config.resetTokenTtlMs;

/** Default lifetime of an admin-made reset link (and of the welcome email's link) of this tenant. */
export const adminResetTtlMs = (config: Pick<Config, 'adminResetTokenTtlMs'>, tenant: Pick<Tenant, 'settings'>) =>
  ttlMs(stored(tenant).adminResetTokenTtl) ?? config.adminResetTokenTtlMs;

/** The address inside a From header ("Name <a@b>" or a bare address). */
const addressOf = (from: string) => /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim();

/** The From header of this tenant's mail, or null for MAIL_FROM as it is. */
export function senderOf(mailFrom: string, tenant: Pick<Tenant, 'settings'>): string | null {
  const sender = stored(tenant).sender;
  if (!sender?.name && !sender?.address) return null;
  const address = sender.address ?? addressOf(mailFrom);
  return sender.name ? `"${sender.name.replace(/["\\]/g, (c) => `\\${c}`)}" <${address}>` : address;
}

export interface Brand {
  /** Shown on the tenant's pages and in its emails: the brand's name, else the tenant's name. */
  name: string;
  colour: string | null;
  logoUrl: string | null;
}

export function brandOf(tenant: Pick<Tenant, 'name' | 'settings'>): Brand {
  const b = stored(tenant).branding;
  return { name: b?.name ?? tenant.name, colour: b?.colour ?? null, logoUrl: b?.logoUrl ?? null };
}

/** What the operator API shows. */
export function settingsView(tenant: Pick<Tenant, 'name' | 'settings'>) {
  const s = stored(tenant);
  return {
    resetTokenTtl: s.resetTokenTtl ?? null,
    adminResetTokenTtl: s.adminResetTokenTtl ?? null,
    sender: s.sender ? { name: s.sender.name ?? null, address: s.sender.address ?? null } : null,
    brand: s.branding ? { name: brandOf(tenant).name, logoUrl: s.branding.logoUrl ?? null, color: s.branding.colour ?? null } : null,
    /** @deprecated `brand` under its old name. */
    branding: s.branding ? { name: s.branding.name ?? null, colour: s.branding.colour ?? null, logoUrl: s.branding.logoUrl ?? null } : null,
    trustedNetworks: s.trustedNetworks ?? [],
    mfa: s.mfa ?? 'optional',
    trustIdpMfa: s.trustIdpMfa ?? false,
    scim: { sendWelcome: s.scim?.sendWelcome ?? true },
  };
}

export type MfaRequirement = 'optional' | 'admins' | 'everyone';

/** Who in this tenant must have a second factor. */
export const mfaRequirementOf = (tenant: Pick<Tenant, 'settings'>): MfaRequirement => stored(tenant).mfa ?? 'optional';

/** Whether a Google sign-in of this tenant stands for both factors (its IdP asked for a second one). */
export const trustsIdpMfa = (tenant: Pick<Tenant, 'settings'>): boolean => stored(tenant).trustIdpMfa ?? false;

/** Whether a user created over SCIM gets the welcome email (default: yes). */
export const scimSendsWelcome = (tenant: Pick<Tenant, 'settings'>): boolean => stored(tenant).scim?.sendWelcome ?? true;

/** The tenant's trusted networks (CIDRs, checked when they were saved). */
export const trustedNetworksOf = (tenant: Pick<Tenant, 'settings'>): string[] => stored(tenant).trustedNetworks ?? [];

// Wider networks would lift the per-IP limits for much of the internet.
const WIDEST_PREFIX = { ipv4: 16, ipv6: 32 } as const;

/** A CIDR ("203.0.113.0/24", "2001:db8:1::/48", or one address) in canonical form, or null. */
function checkNetwork(value: string): string | null {
  const [address = '', prefixText] = value.trim().split('/');
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
  if (!family) return null;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= WIDEST_PREFIX[family] && prefix <= max)) return null;
  return `${address.toLowerCase()}/${prefix}`;
}

const bad = (field: string, message: string) => invalidRequest(`${field}: ${message}`, { field });

function checkTtl(field: string, value: string): string {
  const ms = parseDuration(value);
  if (ms === null) throw bad(field, `"${value}" is not a duration like 30m, 1h or 7d`);
  if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) throw bad(field, 'must be between 5 minutes and 30 days');
  return value.trim();
}

/**
 * The stored settings with a patch applied and checked; throws a 400 naming the field.
 */
export function applySettingsPatch(settings: Record<string, unknown>, patch: SettingsPatchInput, publicUrl: string): Record<string, unknown> {
  const next: Record<string, unknown> = { ...settings };
  for (const key of ['resetTokenTtl', 'adminResetTokenTtl'] as const) {
    const value = patch[key];
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = checkTtl(key, value);
  }
  if (patch.sender === null) delete next.sender;
  else if (patch.sender) {
    const address = patch.sender.address === undefined ? undefined : parseEmail(patch.sender.address);
    if (address === null) throw bad('sender.address', 'must be exactly one email address');
    if (!patch.sender.name && !address) throw bad('sender', 'give a name, an address or both (null goes back to MAIL_FROM)');
    next.sender = { ...(patch.sender.name ? { name: patch.sender.name } : {}), ...(address ? { address } : {}) };
  }
  if (patch.trustedNetworks === null || patch.trustedNetworks?.length === 0) delete next.trustedNetworks;
  else if (patch.trustedNetworks) {
    next.trustedNetworks = patch.trustedNetworks.map((n, i) => {
      const network = checkNetwork(n);
      if (!network) throw bad(`trustedNetworks.${i}`, `"${n}" is not an IPv4 network of /16 or narrower or an IPv6 network of /32 or narrower`);
      return network;
    });
  }
  if (patch.scim === null) delete next.scim;
  else if (patch.scim) next.scim = { sendWelcome: patch.scim.sendWelcome };
  for (const key of ['mfa', 'trustIdpMfa'] as const) {
    if (patch[key] === null) delete next[key];
    else if (patch[key] !== undefined) next[key] = patch[key];
  }
  if (patch.brand !== undefined && patch.branding !== undefined) throw bad('brand', 'give brand or its old name branding, not both');
  if (patch.brand === null || patch.branding === null) delete next.branding;
  else if (patch.brand) {
    const { name, color, logoUrl } = patch.brand;
    next.branding = storedBrand(name, color ?? undefined, logoUrl ?? undefined, 'brand', publicUrl);
  } else if (patch.branding) {
    const { name, colour, logoUrl } = patch.branding;
    if (!name && !colour && !logoUrl) throw bad('branding', 'give a name, a colour or a logo URL (null removes the branding)');
    next.branding = storedBrand(name, colour, logoUrl, 'branding', publicUrl);
  }
  return next;
}

/** The brand as stored (under its old key `branding`, so stored settings need no migration). */
function storedBrand(name: string | undefined, colour: string | undefined, logoUrl: string | undefined, field: string, publicUrl: string) {
  const logo = logoUrl ? checkLogoUrl(logoUrl, `${field}.logoUrl`, publicUrl) : undefined;
  return { ...(name ? { name } : {}), ...(colour ? { colour: colour.toLowerCase() } : {}), ...(logo ? { logoUrl: logo } : {}) };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;
// Only plain host names: the logo's origin goes into the tenant pages' CSP, where ";" or "'" would
// start a directive of their own.
const HOST = /^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/;

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/;

/**
 * A logo address: a path on PUBLIC_URL ("/logos/acme.svg"), or an https URL on a named host (its
 * origin is then allowed for images on this tenant's pages only — never an IP address, which would
 * let every visitor's browser reach private addresses). http:// and loopback addresses only while
 * Keyturn itself runs on loopback (a laptop, a test).
 */
function checkLogoUrl(value: string, field: string, publicUrl: string): string {
  let url: URL | null = null;
  try { url = publicUrl && value.startsWith('/') && !value.startsWith('//') ? new URL(value, publicUrl) : new URL(value); } catch { /* reported below */ }
  const why = `must be an https:// address or a path on PUBLIC_URL (${publicUrl ? new URL(publicUrl).origin : ''}/…)`;
  if (!url || !HOST.test(url.hostname) || url.username || url.password) throw bad(field, why);
  const sameOrigin = publicUrl !== '' && url.origin === new URL(publicUrl).origin;
  const local = publicUrl !== '' && LOOPBACK.test(new URL(publicUrl).hostname) && LOOPBACK.test(url.hostname);
  if (!sameOrigin && !local && (LOOPBACK.test(url.hostname) || IP_LITERAL.test(url.hostname))) throw bad(field, why);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (sameOrigin || local))) throw bad(field, why);
  return url.href;
}

/** The origin the tenant's pages must allow images from for its logo (null: none, or their own). */
export function logoOrigin(brand: Pick<Brand, 'logoUrl'>): string | null {
  return brand.logoUrl ? new URL(brand.logoUrl).origin : null;
}

// ── colour ─────────────────────────────────────────────────────────────────────────────────────

const channels = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const toHex = (rgb: number[]) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;

function luminance(hex: string): number {
  const [r, g, b] = channels(hex).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio of a colour against white. */
export const contrastWithWhite = (hex: string) => 1.05 / (luminance(hex) + 0.05);

/**
 * The brand colour, darkened just enough that white text on it (buttons) and it as text on white
 * (links) reach WCAG AA (4.5:1). A dark enough colour comes back unchanged.
 */
export function accessibleShade(hex: string): string {
  let rgb = channels(hex);
  for (let i = 0; i < 40 && contrastWithWhite(toHex(rgb)) < 4.5; i++) rgb = rgb.map((c) => c * 0.92);
  return toHex(rgb);
}

/** CIE L*a*b* of a colour (D65), where distances roughly match what people see. */
function lab(hex: string): [number, number, number] {
  const [r, g, b] = channels(hex).map((c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const x = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047);
  const y = f(0.2126 * r + 0.7152 * g + 0.0722 * b);
  const z = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

/** The pages' error colour (app.css `--error`). */
const ERROR_RED = '#b3261e';
/** Below this distance (ΔE*76) a colour reads as "the error red": reds, oranges, crimsons, pinks. */
const FOCUS_MIN_DISTANCE = 50;

/**
 * The focus ring's colour for a brand shade, or null for the pages' neutral default: a brand near
 * the error red would make a focused empty field look like an invalid one.
 */
export function focusShade(shade: string): string | null {
  const [a, b] = [lab(shade), lab(ERROR_RED)];
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) >= FOCUS_MIN_DISTANCE ? shade : null;
}

/** A darker variant for hover states. */
export const hoverShade = (hex: string) => toHex(channels(hex).map((c) => c * 0.82));

/**
 * The brand of an email to these accounts' owner: the tenant's when they are all in one tenant,
 * Keyturn's (undefined) when the mail speaks for several.
 */
export function mailBrandOf(tenants: Pick<Tenant, 'id' | 'name' | 'settings'> | Pick<Tenant, 'id' | 'name' | 'settings'>[]): Brand | undefined {
  const list = Array.isArray(tenants) ? tenants : [tenants];
  const first = list[0];
  return first && list.every((t) => t.id === first.id) ? brandOf(first) : undefined;
}
