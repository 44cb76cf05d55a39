// The parts of a form that ask for a second factor, shared by the sign-in's second step and the
// reset page: the code field (an authenticator app's code or a recovery code: the server tells
// them apart) and the security-key block (client/second-step.ts), which needs JavaScript and says so.
import type { MfaMethod } from '../../errors.ts';
import type { Answer } from '../../features/mfa/factors.ts';
import { html, jsonAttr, type Html } from '../html.ts';
import type { Messages } from '../i18n/index.ts';
import { field } from '../layout.ts';

/** Longer than any code or recovery code, shorter than anything that is not one. */
const MAX_CODE = 40;
/** A WebAuthn assertion's JSON is a few hundred bytes to a few KiB (large user handles, extensions). */
const MAX_ASSERTION = 20_000;

export interface CodeFieldInput {
  id: string;
  name: string;
  methods: MfaMethod[];
  error?: string;
  autofocus?: boolean;
  required?: boolean;
}

/** The one field for a code: six digits from the app, or a recovery code; '' when the account has neither. */
export function codeField(m: Messages, f: CodeFieldInput): Html | '' {
  if (!f.methods.includes('totp') && !f.methods.includes('recovery_code')) return '';
  const s = m.secondStep;
  const app = f.methods.includes('totp');
  return field({
    id: f.id, name: f.name, type: 'text', autocomplete: 'one-time-code', inputmode: app ? 'numeric' : undefined,
    label: app ? s.codeLabel : s.recoveryCodeLabel, hint: app ? s.codeHint : s.recoveryCodeHint,
    error: f.error, autofocus: f.autofocus, required: f.required, value: '',
  });
}

export interface SecurityKeyInput {
  /** The button's id (`use-security-key` on the sign-in page). */
  id: string;
  /** The hidden field the browser's answer goes into. */
  name: string;
  mode: 'get' | 'create';
  options: unknown;
  label: string;
  noScript: string;
  unsupported: string;
  /** Sends the form once the key answered (sign-in, enrolment); else says the key is ready (reset). */
  submit?: boolean;
}

/**
 * The button stays hidden until the script shows it; until then the status line is the sentence
 * that a security key needs JavaScript, so a page without it says so where the button would be.
 */
export function securityKeyBlock(m: Messages, k: SecurityKeyInput): Html {
  const s = m.secondStep;
  return html`<div class="mfa-key" data-security-key="${k.mode}" data-options="${jsonAttr(k.options)}" data-working="${s.keyWorking}" data-failed="${s.keyFailed}" data-unsupported="${k.unsupported}" data-ready="${s.keyReady}"${k.submit ? html` data-submit` : ''}>
<input type="hidden" name="${k.name}" value="" data-security-key-answer>
<button class="btn btn-secondary" type="button" id="${k.id}" data-security-key-button hidden>${k.label}</button>
<p class="mfa-key-status" role="status" aria-live="polite" data-security-key-status>${k.noScript}</p>
</div>`;
}

/**
 * What the form answered: a security key's JSON when there is one, else the code — six digits are
 * an authenticator app's, anything else is tried as a recovery code. `null`: nothing was given;
 * `'malformed'`: something that cannot be an answer (not counted as a wrong one).
 */
export function answerOf(code: string, assertion: string): Answer | null | 'malformed' {
  if (assertion !== '') {
    if (assertion.length > MAX_ASSERTION) return 'malformed';
    try {
      const response = JSON.parse(assertion) as unknown;
      if (typeof response !== 'object' || response === null || typeof (response as { id?: unknown }).id !== 'string') return 'malformed';
      return { method: 'webauthn', response: response as never };
    } catch {
      return 'malformed';
    }
  }
  const typed = code.trim();
  if (typed === '') return null;
  if (typed.length > MAX_CODE) return 'malformed';
  return /^\d{6}$/.test(typed.replace(/[\s-]/g, '')) ? { method: 'totp', code: typed } : { method: 'recovery_code', code: typed };
}
