// Picks the catalogue from Accept-Language (English first, German second) and formats times and
// durations the way the chosen language writes them.
import { de } from './de.ts';
import { en, type Messages } from './en.ts';

export type { Messages } from './en.ts';

const catalogues: Record<string, Messages> = { en, de };

/** The best supported language in an Accept-Language header; English when nothing fits. */
export function pickLanguage(header: string | undefined): 'en' | 'de' {
  if (!header) return 'en';
  const ranked = header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { lang: tag.trim().toLowerCase().split('-')[0] ?? '', q: q === undefined ? 1 : Number(q), index };
    })
    .filter((x) => x.q > 0 && Number.isFinite(x.q))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { lang } of ranked) if (lang === 'en' || lang === 'de') return lang;
  return 'en';
}

export function messagesFor(header: string | undefined): Messages {
  return catalogues[pickLanguage(header)] ?? en;
}

const intlLocale = (m: Messages) => (m.lang === 'de' ? 'de-DE' : 'en-GB');

/** "14:32 UTC", plus the date when it is not today (UTC). */
export function formatTime(m: Messages, at: Date, now: Date): string {
  const time = new Intl.DateTimeFormat(intlLocale(m), { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: 'UTC' }).format(at);
  const sameDay = at.toISOString().slice(0, 10) === now.toISOString().slice(0, 10);
  if (sameDay) return `${time} ${m.utc}`;
  const date = new Intl.DateTimeFormat(intlLocale(m), { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(at);
  return `${time} ${m.utc}, ${date}`;
}

/** Seconds as whole minutes, rounded up ("1 minute", "60 minutes"). */
export function minutesText(m: Messages, seconds: number): string {
  return m.minutes(Math.max(1, Math.ceil(seconds / 60)));
}

/**
 * A lifetime in words: "30 minutes", "1 hour", "72 hours", "7 days". Up to 72 hours a lifetime reads
 * in hours (as the admin console's and the CLI's 24h and 72h say it); whole days beyond that read in
 * days, never "168 hours".
 */
export function durationText(m: Messages, ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes % 1440 === 0 && minutes > 72 * 60) return m.days(minutes / 1440);
  return minutes % 60 === 0 && minutes >= 60 ? m.hours(minutes / 60) : m.minutes(Math.max(1, minutes));
}
