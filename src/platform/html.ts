/** Escapes text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** "14:32 UTC, 23 November 2026" — unambiguous for people in any time zone. */
export function formatTime(d: Date): string {
  const time = d.toISOString().slice(11, 16);
  const date = d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  return `${time} UTC, ${date}`;
}

/** "Acme", "Acme and Beta", "Acme, Beta and Gamma". */
export function listInWords(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
