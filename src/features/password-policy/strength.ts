// Lazy zxcvbn-ts loader. Isomorphic: the @zxcvbn-ts packages (several MB of dictionaries)
// are only reached through dynamic import(), so importing this module costs nothing and a
// browser bundle splits them into a chunk fetched on first use.
//
// @zxcvbn-ts/core v4 dropped the global `zxcvbnOptions.setOptions()` + `zxcvbn()` pair:
// options now go to `new ZxcvbnFactory(options)` and checks run through `factory.check()`.

import type { StrengthEstimator } from './policy.ts';

/**
 * zxcvbn only looks at this many leading UTF-16 units (its default is 256). Its matching is
 * super-linear: with the defaults a crafted 256-character password costs ~4 s of synchronous
 * CPU, a cheap way to stall the server's event loop (or the browser tab). With 100 units and
 * at most 10 l33t substitutions the worst case measured ~250 ms, and scores for ordinary
 * passwords are unchanged. Longer passwords are rated on their first 100 characters.
 */
const ESTIMATE_MAX_LENGTH = 100;
const L33T_MAX_SUBSTITUTIONS = 10;

let pending: Promise<StrengthEstimator> | null = null;

async function load(): Promise<StrengthEstimator> {
  const [core, common, en] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en'),
  ]);
  const factory = new core.ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
    maxLength: ESTIMATE_MAX_LENGTH,
    l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
    // useLevenshteinDistance stays off: it costs ~0.2-0.7 s per check, too slow per keystroke.
  });
  return (password, userInputs) => {
    const result = factory.check(password, userInputs);
    const out: ReturnType<StrengthEstimator> = {
      score: result.score,
      suggestions: [...result.feedback.suggestions],
    };
    if (result.feedback.warning) out.warning = result.feedback.warning;
    return out;
  };
}

/**
 * Loads zxcvbn-ts (core + common and English dictionaries, keyboard graphs, English
 * feedback) on first call and resolves to an estimator for `checkPassword`'s
 * `ctx.strength`. Memoised: every call returns the same promise. A failed load (e.g. a
 * chunk that could not be fetched) is forgotten so the next call retries.
 */
export function loadStrengthEstimator(): Promise<StrengthEstimator> {
  if (!pending) {
    pending = load();
    pending.catch(() => {
      pending = null;
    });
  }
  return pending;
}
