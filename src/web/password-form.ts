// The "new password + repeat" block shared by the reset and the settings page: the rule checklist
// (server-rendered, so it reads fine without JavaScript), the strength meter and the mismatch
// message that the client script brings to life with the same policy module the server enforces.
// The history rule (`not_reused`, history.ts) is listed too: only the server can check it, so the
// page shows it unknown until a submit, and failed when the server refused the password for it.
import type { PasswordPolicy, RuleId } from '../features/password-policy/policy.ts';
import { describeRules } from '../features/password-policy/policy.ts';
import { html, jsonAttr, type Html } from './html.ts';
import type { Messages } from './i18n/index.ts';

export function ruleLabel(m: Messages, id: RuleId, policy: PasswordPolicy): string {
  switch (id) {
    case 'min_length': return m.ruleMinLength(policy.minLength);
    case 'max_length': return m.ruleMaxLength(policy.maxLength);
    case 'uppercase': return m.ruleUppercase;
    case 'number': return m.ruleNumber;
    case 'special': return m.ruleSpecial;
    case 'not_email': return m.ruleNotEmail;
    case 'not_common': return m.ruleNotCommon;
  }
}

/**
 * One policy that is at least as strict as each of several (a reset can cover accounts in tenants
 * with different rules). The live checklist uses it; the server still checks each tenant's own.
 */
export function strictestPolicy(policies: PasswordPolicy[]): PasswordPolicy {
  const [first, ...rest] = policies;
  if (!first) throw new Error('strictestPolicy needs at least one policy');
  return rest.reduce<PasswordPolicy>((a, b) => ({
    preset: a.preset,
    minLength: Math.max(a.minLength, b.minLength),
    maxLength: Math.min(a.maxLength, b.maxLength),
    requireUppercase: a.requireUppercase || b.requireUppercase,
    requireNumber: a.requireNumber || b.requireNumber,
    requireSpecial: a.requireSpecial || b.requireSpecial,
    blockCommon: a.blockCommon || b.blockCommon,
    minStrength: Math.max(a.minStrength, b.minStrength),
    blockedWords: [...new Set([...a.blockedWords, ...b.blockedWords])],
  }), first);
}

/** Attributes for the <form>: the policy and email the client checks against. */
export const passwordFormAttrs = (policy: PasswordPolicy, email: string): Html =>
  html` data-password-form data-policy="${jsonAttr(policy)}" data-email="${email}"`;

export interface NewPasswordInput {
  m: Messages;
  policy: PasswordPolicy;
  /** Rule ids the server refused on the last submit. */
  failed?: string[];
  /** Server-side error above the new password (policy failed). */
  error?: string;
  /** Server-side error for the repeat field (did not match). */
  repeatError?: string;
  /** How many recent passwords the new one must differ from (`not_reused`); 0 or absent: not listed. */
  history?: number;
}

/** The message above the field for a policy refusal: its own for a reused password. */
export function policyMessage(m: Messages, failed: string[], history: number): string {
  return failed.length === 1 && failed[0] === 'not_reused' && history > 0 ? m.policyReused(history) : m.policyFailed;
}

export function newPasswordFields({ m, policy, failed, error, repeatError, history = 0 }: NewPasswordInput): Html {
  const rules: { id: string; label: string; serverOnly?: boolean }[] = describeRules(policy).map((r) => ({ id: r.id, label: ruleLabel(m, r.id, policy) }));
  if (history > 0) rules.push({ id: 'not_reused', label: m.ruleNotReused(history), serverOnly: true });
  const serverOnly = new Set(rules.filter((r) => r.serverOnly).map((r) => r.id));
  // A server-only rule is never ticked: a refusal for another rule (or a page-side one, like an empty
  // field) does not say that this password passed it.
  const state = (id: string) => (failed?.includes(id) ? 'false' : failed && !serverOnly.has(id) ? 'true' : 'unknown');
  // Too long is not a "not yet": typing more cannot fix it.
  const stateText = (id: string) => (state(id) === 'true' ? m.ruleMet : state(id) === 'false' ? (id === 'max_length' ? m.ruleBroken : m.ruleNotMet) : '');
  return html`<div class="field${error ? ' field-invalid' : ''}">
<label for="new-password">${m.newPassword}</label>
${error ? html`<p class="field-error" id="new-password-error">${error}</p>` : ''}
<input id="new-password" name="password" type="password" autocomplete="new-password" required maxlength="1024" aria-describedby="${error ? 'new-password-error ' : ''}rules-heading rules"${error ? html` aria-invalid="true"` : ''} data-new-password>
<div class="meter" data-meter data-levels="${jsonAttr(m.strengthLevels)}" data-too-long="${m.strengthTooLong}" hidden>
<div class="meter-bar" data-score="-1" aria-hidden="true"><span></span><span></span><span></span><span></span></div>
<p class="meter-text">${m.strengthLabel}: <span data-meter-text>—</span></p>
</div>
<p class="rules-heading" id="rules-heading">${m.rulesHeading}</p>
<ul class="rules" id="rules" aria-live="polite" data-rules data-broken="${m.ruleBroken}">
${rules.map((r) => html`<li data-rule="${r.id}" data-ok="${state(r.id)}"${r.serverOnly ? html` data-server-only` : ''}><span class="rule-label">${r.label}</span><span class="visually-hidden" data-rule-state>${stateText(r.id) ? html` (${stateText(r.id)})` : ''}</span></li>
`)}</ul>
</div>
<div class="field${repeatError ? ' field-invalid' : ''}">
<label for="repeat-password">${m.repeatPassword}</label>
<input id="repeat-password" name="repeat" type="password" autocomplete="new-password" required maxlength="1024" aria-describedby="repeat-error"${repeatError ? html` aria-invalid="true"` : ''} data-repeat-password>
<p class="field-error" id="repeat-error" aria-live="polite" data-mismatch data-message="${m.passwordsDontMatch}">${repeatError ?? ''}</p>
</div>`;
}
