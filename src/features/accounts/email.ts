// One canonical form for lookups; mail always goes to the stored address, never to what was typed,
// so a look-alike spelling (dotless i, Kelvin sign) can at most reach the real owner's inbox.
export function canonicalEmail(input: string): string {
  return input.trim().normalize('NFKC').toLowerCase();
}

// One address only: no lists, no display names, no control characters, no quoting.
const ADDRESS = /^[^\s@,;:<>"()[\]\\]+@[^\s@,;:<>"()[\]\\]+\.[^\s@,;:<>"()[\]\\.][^\s@,;:<>"()[\]\\]*$/u;

/** Returns the trimmed address, or null when it is not exactly one plausible email address. */
export function parseEmail(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const value = input.trim();
  if (value.length === 0 || value.length > 254) return null;
  if (/\p{Cc}|\p{Cf}/u.test(value)) return null; // CR, LF, NUL, zero-width …
  if (!ADDRESS.test(value)) return null;
  return value;
}
