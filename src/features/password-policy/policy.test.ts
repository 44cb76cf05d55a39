import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkPassword,
  describeRules,
  normalizePassword,
  resolvePolicy,
  type RuleId,
  type StrengthEstimator,
} from './policy.ts';
import { loadStrengthEstimator } from './strength.ts';

const DEFAULT = resolvePolicy();
const NIST = resolvePolicy({ preset: 'nist' });

const failedOf = (password: string, policy = DEFAULT, ctx = {}) => checkPassword(password, policy, ctx).failed;

describe('default preset: the four seed rules', () => {
  it.each<[string, RuleId[]]>([
    ['', ['min_length', 'uppercase', 'number', 'special']],
    ['short', ['min_length', 'uppercase', 'number', 'special']],
    ['Ab1!', ['min_length']],
    ['abcdefgh', ['uppercase', 'number', 'special']],
    ['abcdef1!', ['uppercase']],
    ['Abcdefg!', ['number']],
    ['ABCDEFG1', ['special']],
    ['Abcdefg 1', []], // a space counts as a special character
    ['Abcdef1!', []],
  ])('%j fails exactly %j', (password, expected) => {
    const result = checkPassword(password, DEFAULT);
    expect(result.failed).toEqual(expected);
    expect(result.ok).toBe(expected.length === 0);
  });

  it('uses Unicode classes: non-ASCII uppercase letters and digits count', () => {
    expect(failedOf('Ébcdefg١!')).toEqual([]); // É is \p{Lu}, ١ (Arabic-Indic one) is \p{Nd}
  });

  it('reports every applicable rule in display order, with the describeRules labels', () => {
    const result = checkPassword('abcdefgh', DEFAULT, { email: 'jane@example.com' });
    // not_common is left out: no estimator and no blocked words (see checkPassword's doc).
    expect(result.results.map((r) => r.id)).toEqual([
      'min_length', 'max_length', 'uppercase', 'number', 'special', 'not_email',
    ]);
    const labels = new Map(describeRules(DEFAULT).map((r) => [r.id, r.label]));
    for (const r of result.results) expect(r.label).toBe(labels.get(r.id));
  });
});

describe('nist preset: 15 characters, no composition rules', () => {
  it('accepts 15 lowercase letters and refuses 14 on length only', () => {
    expect(failedOf('abcdefghijklmno', NIST)).toEqual([]);
    expect(failedOf('abcdefghijklmn', NIST)).toEqual(['min_length']);
  });

  it('does not evaluate uppercase, number or special', () => {
    const ids = checkPassword('abcdefghijklmno', NIST).results.map((r) => r.id);
    expect(ids).toEqual(['min_length', 'max_length', 'not_email']);
  });

  it('refuses an 8-character password that the default preset accepts', () => {
    expect(failedOf('Abcdef1!', DEFAULT)).toEqual([]);
    expect(failedOf('Abcdef1!', NIST)).toEqual(['min_length']);
  });
});

describe('not_common with the real zxcvbn estimator', () => {
  let strength: StrengthEstimator;
  beforeAll(async () => {
    strength = await loadStrengthEstimator();
  }, 60_000);

  it('refuses Password123! although it meets the four seed rules', () => {
    expect(failedOf('Password123!')).toEqual([]); // composition rules alone would let it through
    const result = checkPassword('Password123!', DEFAULT, { strength });
    expect(result.ok).toBe(false);
    expect(result.failed).toEqual(['not_common']);
    expect(result.score).toBeLessThan(DEFAULT.minStrength);
    expect(result.warning).toEqual(expect.any(String));
  });

  it('refuses Password123! under nist too (length and not_common)', () => {
    expect(checkPassword('Password123!', NIST, { strength }).failed).toEqual(['min_length', 'not_common']);
  });

  it('accepts a strong passphrase under both presets', () => {
    const pass = 'correct-Horse-battery-9-staple!';
    const result = checkPassword(pass, DEFAULT, { strength, email: 'jane@example.com' });
    expect(result).toMatchObject({ ok: true, failed: [] });
    expect(result.score).toBeGreaterThanOrEqual(3);
    expect(result.results.map((r) => r.id)).toContain('not_common');
    expect(checkPassword(pass, NIST, { strength }).ok).toBe(true);
  });

  it('uses the email as a zxcvbn user input: a password built on the local part is refused', () => {
    const pw = 'Zkqwjxvmbrtpl1!'; // random-looking letters: strong on its own
    expect(checkPassword(pw, DEFAULT, { strength }).ok).toBe(true);
    const result = checkPassword(pw, DEFAULT, { strength, email: 'zkqwjxvmbrtpl@example.com' });
    expect(result.failed).toEqual(['not_common']); // not_email itself passes: not equal to the local part
    expect(result.score).toBeLessThan(DEFAULT.minStrength);
  });

  it('loadStrengthEstimator is memoised', () => {
    expect(loadStrengthEstimator()).toBe(loadStrengthEstimator());
  });

  it('blocked words fail even when zxcvbn rates the password strong', () => {
    const policy = resolvePolicy({ blockedWords: ['Acme'] });
    // With "acme" as a user input zxcvbn still finds the rest strong; the word list decides.
    const result = checkPassword('acmeRocks!2024xyzQ', policy, { strength });
    expect(result.score).toBeGreaterThanOrEqual(policy.minStrength);
    expect(result.failed).toEqual(['not_common']);
  });
});

describe('not_common with an injected estimator', () => {
  it('fails below minStrength and passes at it', () => {
    const two: StrengthEstimator = () => ({ score: 2, warning: 'meh' });
    const r3 = checkPassword('Abcdef1!', resolvePolicy({ minStrength: 3 }), { strength: two });
    expect(r3.failed).toEqual(['not_common']);
    expect(r3).toMatchObject({ score: 2, warning: 'meh' });
    expect(checkPassword('Abcdef1!', resolvePolicy({ minStrength: 2 }), { strength: two }).failed).toEqual([]);
  });

  it('passes the NFKC password and [email, local part, ...blockedWords] to the estimator', () => {
    const calls: [string, string[]][] = [];
    const spy: StrengthEstimator = (password, userInputs) => {
      calls.push([password, userInputs]);
      return { score: 4 };
    };
    const policy = resolvePolicy({ blockedWords: ['Acme', 'Keyturn'] });
    checkPassword('Ｐａｓｓｗｏｒｄ１！', policy, { email: 'Jane@Example.com', strength: spy });
    expect(calls).toEqual([['Password1!', ['jane@example.com', 'jane', 'Acme', 'Keyturn']]]);
  });

  it('is omitted (neither passed nor failed) without an estimator or blocked words', () => {
    const result = checkPassword('Password123!', DEFAULT);
    expect(result.results.map((r) => r.id)).not.toContain('not_common');
    expect(result.ok).toBe(true);
    expect(result.score).toBeUndefined();
  });

  it('is not evaluated at all when blockCommon is off', () => {
    const policy = resolvePolicy({ blockCommon: false, blockedWords: ['acme'] });
    const never: StrengthEstimator = () => {
      throw new Error('estimator must not be called');
    };
    const result = checkPassword('acmeRocks!2024xyz', policy, { strength: never });
    expect(result.results.map((r) => r.id)).not.toContain('not_common');
    expect(result.ok).toBe(true);
  });
});

describe('NFKC normalisation and code-point lengths', () => {
  it('normalises fullwidth characters', () => {
    expect(normalizePassword('Ｐａｓｓ')).toBe('Pass');
    expect(checkPassword('Ｐａｓｓｗｏｒｄ１！', DEFAULT).failed).toEqual([]);
  });

  it('never trims, truncates or changes case', () => {
    expect(normalizePassword('  Pa ss  ')).toBe('  Pa ss  ');
    const long = 'aB3$'.repeat(300);
    expect(normalizePassword(long)).toBe(long);
  });

  it('counts length after normalisation (ligature ﬃ is three characters)', () => {
    // 6 code points as typed, 10 after NFKC.
    expect(failedOf('Ab1!ﬃﬃ')).toEqual([]);
  });

  it('256 code points pass max_length, 257 fail', () => {
    const p256 = 'A1!' + 'a'.repeat(253);
    expect(failedOf(p256)).toEqual([]);
    expect(failedOf(p256 + 'a')).toEqual(['max_length']);
  });

  it('counts an emoji as one code point, not two UTF-16 units', () => {
    const smile = '😀';
    expect(smile.length).toBe(2);
    expect(failedOf(smile.repeat(256), NIST)).toEqual([]); // 512 UTF-16 units
    expect(failedOf(smile.repeat(257), NIST)).toEqual(['max_length']);
    expect(failedOf(smile.repeat(4) + 'A1!')).toEqual(['min_length']); // 7 code points, 11 units
    expect(failedOf(smile.repeat(5) + 'A1!')).toEqual([]);
  });
});

describe('not_email', () => {
  const email = 'Jane.Doe@Example.com';

  it('fails for the email itself in another case', () => {
    expect(failedOf('jane.doe@EXAMPLE.COM', NIST, { email })).toEqual(['not_email']);
  });

  it('fails for the local part alone and for a password containing the whole email', () => {
    expect(failedOf('JANE.DOE', DEFAULT, { email })).toContain('not_email');
    expect(failedOf('X1!jane.doe@example.com!', DEFAULT, { email })).toEqual(['not_email']);
  });

  it('passes for unrelated passwords and when no email is known', () => {
    expect(failedOf('Unrelated-Pass-1', DEFAULT, { email })).toEqual([]);
    expect(failedOf('jane.doe@example.com', NIST)).toEqual([]);
  });
});

describe('blockedWords', () => {
  it('blocks "Acme" in "acmeRocks!2024xyz" case-insensitively, without an estimator', () => {
    const policy = resolvePolicy({ blockedWords: ['Acme'] });
    expect(failedOf('acmeRocks!2024xyz', policy)).toEqual(['not_common']);
    expect(failedOf('xyzACMErocks!2024', policy)).toEqual(['not_common']);
    expect(failedOf('Rocks!2024xyz', policy)).toEqual([]);
  });

  it('ignores words shorter than 3 characters', () => {
    const policy = resolvePolicy({ blockedWords: ['ab'] });
    expect(failedOf('abRocks!2024xyz', policy)).toEqual([]);
  });
});

describe('describeRules', () => {
  it('returns stable ids and labels for the default preset', () => {
    expect(describeRules(DEFAULT)).toEqual([
      { id: 'min_length', label: 'At least 8 characters' },
      { id: 'max_length', label: 'At most 256 characters' },
      { id: 'uppercase', label: 'An uppercase letter' },
      { id: 'number', label: 'A number' },
      { id: 'special', label: 'A special character' },
      { id: 'not_email', label: 'Not your email address' },
      { id: 'not_common', label: 'Not a common or easily guessed password' },
    ]);
  });

  it('returns stable ids for the nist preset', () => {
    expect(describeRules(NIST).map((r) => r.id)).toEqual(['min_length', 'max_length', 'not_email', 'not_common']);
    expect(describeRules(NIST)[0]!.label).toBe('At least 15 characters');
  });

  it('drops not_common when blockCommon is off', () => {
    expect(describeRules(resolvePolicy({ blockCommon: false })).map((r) => r.id)).not.toContain('not_common');
  });
});

describe('resolvePolicy', () => {
  it('gives the default preset for missing settings', () => {
    const expected = {
      preset: 'default', minLength: 8, maxLength: 256, requireUppercase: true, requireNumber: true,
      requireSpecial: true, blockCommon: true, minStrength: 3, blockedWords: [],
    };
    expect(resolvePolicy()).toEqual(expected);
    expect(resolvePolicy(null)).toEqual(expected);
    expect(resolvePolicy({})).toEqual(expected);
  });

  it('uses nist as the base and applies overrides on top', () => {
    expect(resolvePolicy({ preset: 'nist', minLength: 20, requireNumber: true, blockedWords: ['Acme'] })).toEqual({
      preset: 'nist', minLength: 20, maxLength: 256, requireUppercase: false, requireNumber: true,
      requireSpecial: false, blockCommon: true, minStrength: 3, blockedWords: ['Acme'],
    });
  });

  it('clamps or ignores garbage values', () => {
    const garbage = (s: Record<string, unknown>) => resolvePolicy(s as never);
    expect(garbage({ preset: 'bogus' }).preset).toBe('default');
    expect(garbage({ minLength: 0 }).minLength).toBe(1);
    expect(garbage({ minLength: -5 }).minLength).toBe(1);
    expect(garbage({ minLength: 1000 }).minLength).toBe(256);
    expect(garbage({ minLength: 12.9 }).minLength).toBe(12);
    expect(garbage({ minLength: Number.NaN }).minLength).toBe(8);
    expect(garbage({ minLength: Infinity }).minLength).toBe(8);
    expect(garbage({ preset: 'nist', minLength: '12' }).minLength).toBe(15);
    expect(garbage({ maxLength: 10 }).maxLength).toBe(256);
    expect(garbage({ minStrength: 9 }).minStrength).toBe(4);
    expect(garbage({ minStrength: -1 }).minStrength).toBe(0);
    expect(garbage({ requireUppercase: 'no' }).requireUppercase).toBe(true);
    expect(garbage({ blockCommon: 0 }).blockCommon).toBe(true);
    expect(garbage({ blockedWords: 'acme' }).blockedWords).toEqual([]);
    expect(garbage({ blockedWords: [' Acme ', 3, null, '', 'Acme'] }).blockedWords).toEqual(['Acme']);
    expect(resolvePolicy('nist' as never)).toEqual(DEFAULT);
  });
});

describe('isomorphic modules', () => {
  const source = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');

  it('policy.ts uses no Node built-ins, Buffer or process', () => {
    const src = source('./policy.ts');
    expect(src).not.toMatch(/^\s*import\s[^;]*from\s*['"]/m); // no imports at all
    expect(src).not.toMatch(/\brequire\s*\(|\bBuffer\s*[.(]|\bprocess\s*\./);
  });

  it('strength.ts imports zxcvbn only dynamically (cheap to import)', () => {
    const src = source('./strength.ts');
    const staticImports = src.match(/^\s*import\s[^;]*;/gm) ?? [];
    for (const line of staticImports) expect(line).toMatch(/^\s*import type /);
    expect(src).toMatch(/import\('@zxcvbn-ts\/core'\)/);
  });
});
