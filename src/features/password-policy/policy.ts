// Password policy: presets, per-tenant overrides, rule descriptions and the check itself.
//
// Isomorphic on purpose: the same module runs on the server (authoritative check before
// hashing) and in the browser (live checklist under the password field). Keep it free of
// Node built-ins, `Buffer` and `process`; the zxcvbn estimator is injected through
// `CheckContext.strength` (see ./strength.ts) so this file never pulls in the dictionaries.

export type PolicyPreset = 'default' | 'nist';

export interface PasswordPolicy {
  preset: PolicyPreset;
  /** Minimum length in Unicode code points (after NFKC). default 8, nist 15. */
  minLength: number;
  /** Maximum length in Unicode code points (after NFKC). Always 256. */
  maxLength: number;
  requireUppercase: boolean;
  requireNumber: boolean;
  requireSpecial: boolean;
  /** Enables the `not_common` rule (zxcvbn score + tenant blocked words). */
  blockCommon: boolean;
  /** zxcvbn score (0..4) a password must reach when `blockCommon` is on. */
  minStrength: number;
  /** Tenant words (company name, product...) a password must not contain. */
  blockedWords: string[];
}

/** What a tenant stores: `preset` picks the base, the other keys override it. */
export type PolicySettings = Partial<PasswordPolicy>;

export type RuleId =
  | 'min_length'
  | 'max_length'
  | 'uppercase'
  | 'number'
  | 'special'
  | 'not_email'
  | 'not_common';

export interface RuleDescription {
  id: RuleId;
  label: string;
}

export interface RuleResult {
  id: RuleId;
  label: string;
  ok: boolean;
}

export interface StrengthEstimator {
  (password: string, userInputs: string[]): { score: number; warning?: string; suggestions?: string[] };
}

export interface CheckContext {
  /** The account's email address, for `not_email` and as a zxcvbn user input. */
  email?: string;
  /** zxcvbn-backed estimator (see `loadStrengthEstimator` in ./strength.ts). */
  strength?: StrengthEstimator;
}

export interface CheckResult {
  ok: boolean;
  /** Ids of the failed rules, in display order. */
  failed: RuleId[];
  /** One entry per evaluated rule, in display order. */
  results: RuleResult[];
  /** zxcvbn score, present only when an estimator was supplied and `blockCommon` is on. */
  score?: number;
  /** zxcvbn feedback warning, when it has one. */
  warning?: string;
}

/** Hard ceiling: long enough for any passphrase, short enough to bound hashing and zxcvbn cost. */
const MAX_LENGTH = 256;
/** Blocked words shorter than this are ignored (too many false positives). */
const MIN_BLOCKED_WORD_LENGTH = 3;

const PRESETS: Record<PolicyPreset, Omit<PasswordPolicy, 'blockedWords'>> = {
  default: {
    preset: 'default',
    minLength: 8,
    maxLength: MAX_LENGTH,
    requireUppercase: true,
    requireNumber: true,
    requireSpecial: true,
    blockCommon: true,
    minStrength: 3,
  },
  nist: {
    // NIST SP 800-63B: length over composition rules, and screen against known/common passwords.
    preset: 'nist',
    minLength: 15,
    maxLength: MAX_LENGTH,
    requireUppercase: false,
    requireNumber: false,
    requireSpecial: false,
    blockCommon: true,
    minStrength: 3,
  },
};

function isPreset(value: unknown): value is PolicyPreset {
  return value === 'default' || value === 'nist';
}

function clampInt(value: unknown, min: number, max: number, fallback: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.trunc(value)));
}

function pickBool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function cleanBlockedWords(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const word of value) {
    if (typeof word !== 'string') continue;
    const w = normalizePassword(word).trim();
    if (w !== '' && !out.includes(w)) out.push(w);
  }
  return out;
}

/**
 * Builds a complete policy from what a tenant stored. Tolerates garbage (the settings come
 * from a JSON column): unknown preset -> 'default', wrong types -> the preset's value,
 * numbers truncated and clamped (minLength 1..256, minStrength 0..4). maxLength is not
 * configurable and is always 256.
 */
export function resolvePolicy(settings?: PolicySettings | null): PasswordPolicy {
  const s: Record<string, unknown> =
    settings !== null && typeof settings === 'object' && !Array.isArray(settings)
      ? (settings as Record<string, unknown>)
      : {};
  const preset: PolicyPreset = isPreset(s.preset) ? s.preset : 'default';
  const base = PRESETS[preset];
  return {
    preset,
    minLength: clampInt(s.minLength, 1, MAX_LENGTH, base.minLength),
    maxLength: MAX_LENGTH,
    requireUppercase: pickBool(s.requireUppercase, base.requireUppercase),
    requireNumber: pickBool(s.requireNumber, base.requireNumber),
    requireSpecial: pickBool(s.requireSpecial, base.requireSpecial),
    blockCommon: pickBool(s.blockCommon, base.blockCommon),
    minStrength: clampInt(s.minStrength, 0, 4, base.minStrength),
    blockedWords: cleanBlockedWords(s.blockedWords),
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The rules that apply to `policy`, in display order (same order as `CheckResult.results`). */
export function describeRules(policy: PasswordPolicy): RuleDescription[] {
  const rules: RuleDescription[] = [
    { id: 'min_length', label: `At least ${plural(policy.minLength, 'character')}` },
    { id: 'max_length', label: `At most ${plural(policy.maxLength, 'character')}` },
  ];
  if (policy.requireUppercase) rules.push({ id: 'uppercase', label: 'An uppercase letter' });
  if (policy.requireNumber) rules.push({ id: 'number', label: 'A number' });
  if (policy.requireSpecial) rules.push({ id: 'special', label: 'A special character' });
  rules.push({ id: 'not_email', label: 'Not your email address' });
  if (policy.blockCommon) rules.push({ id: 'not_common', label: 'Not a common or easily guessed password' });
  return rules;
}

/**
 * Unicode NFKC, nothing else: never trims, never truncates, never changes case.
 * Hash what this returns so that 'Ｐａｓｓ' typed on one keyboard and 'Pass' on another match.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Length in code points, not UTF-16 units: an emoji outside the BMP counts as one. */
function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const UPPERCASE = /\p{Lu}/u;
const NUMBER = /\p{Nd}/u;
const SPECIAL = /[^\p{L}\p{N}]/u;

function splitEmail(email: string | undefined): { full: string; local: string } | null {
  if (typeof email !== 'string') return null;
  const full = normalizePassword(email).trim().toLowerCase();
  if (full === '') return null;
  const at = full.lastIndexOf('@');
  const local = at > 0 ? full.slice(0, at) : full;
  return { full, local };
}

function effectiveBlockedWords(policy: PasswordPolicy): string[] {
  return policy.blockedWords
    .map((w) => normalizePassword(w).trim().toLowerCase())
    .filter((w) => codePointLength(w) >= MIN_BLOCKED_WORD_LENGTH);
}

/**
 * Checks `password` (NFKC-normalised first) against `policy`.
 *
 * `not_common` (only when `policy.blockCommon`) combines two checks:
 *  - the zxcvbn score from `ctx.strength` must be >= `policy.minStrength`;
 *  - the password must not contain any of `policy.blockedWords` (>= 3 characters,
 *    case-insensitive), whether or not an estimator is supplied.
 * When no estimator is supplied (the browser may not have lazy-loaded zxcvbn yet) the
 * score part is skipped; if the policy also has no usable blocked words, `not_common` is
 * omitted from `results` and `failed` altogether rather than reported as passing.
 * The server must therefore always pass an estimator: without one, a common password
 * like `Password123!` is accepted.
 *
 * `not_email` passes trivially when `ctx.email` is not given.
 */
export function checkPassword(password: string, policy: PasswordPolicy, ctx: CheckContext = {}): CheckResult {
  const pw = normalizePassword(password);
  const lower = pw.toLowerCase();
  const length = codePointLength(pw);
  const email = splitEmail(ctx.email);

  const results: RuleResult[] = [];
  let score: number | undefined;
  let warning: string | undefined;

  for (const rule of describeRules(policy)) {
    let ok: boolean;
    switch (rule.id) {
      case 'min_length':
        ok = length >= policy.minLength;
        break;
      case 'max_length':
        ok = length <= policy.maxLength;
        break;
      case 'uppercase':
        ok = UPPERCASE.test(pw);
        break;
      case 'number':
        ok = NUMBER.test(pw);
        break;
      case 'special':
        ok = SPECIAL.test(pw);
        break;
      case 'not_email':
        ok = email === null || !(lower === email.full || lower === email.local || lower.includes(email.full));
        break;
      case 'not_common': {
        const blocked = effectiveBlockedWords(policy);
        if (!ctx.strength && blocked.length === 0) continue; // nothing to evaluate yet: omit
        ok = !blocked.some((w) => lower.includes(w));
        if (ctx.strength) {
          const userInputs = [
            ...(email ? [email.full, email.local] : []),
            ...policy.blockedWords,
          ].filter((w) => w !== '');
          const estimate = ctx.strength(pw, userInputs);
          score = estimate.score;
          if (estimate.warning) warning = estimate.warning;
          if (!(estimate.score >= policy.minStrength)) ok = false;
        }
        break;
      }
    }
    results.push({ id: rule.id, label: rule.label, ok });
  }

  const failed = results.filter((r) => !r.ok).map((r) => r.id);
  const out: CheckResult = { ok: failed.length === 0, failed, results };
  if (score !== undefined) out.score = score;
  if (warning !== undefined) out.warning = warning;
  return out;
}
