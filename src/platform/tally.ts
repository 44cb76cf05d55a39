// Counters a feature keeps for /metrics. Each belongs to one app (two apps in one process never
// share one), is counted in memory and read on every scrape: a counter of events, so a scrape costs
// the same with ten rows or ten million.

/** What /metrics reads: a counter's name, help, label names and its values now. */
export interface CounterSource {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  read(): { labels: Record<string, string>; n: number }[];
}

/** A labelled counter kept in memory. */
export class Tally<L extends string> implements CounterSource {
  private readonly counts = new Map<string, { labels: Record<L, string>; n: number }>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly L[]) {}

  add(labels: Record<L, string>, n = 1): void {
    if (n <= 0) return;
    const key = this.labelNames.map((l) => labels[l]).join('\u0000');
    const entry = this.counts.get(key);
    if (entry) entry.n += n;
    else this.counts.set(key, { labels: { ...labels }, n });
  }

  read(): { labels: Record<L, string>; n: number }[] {
    return [...this.counts.values()].map((e) => ({ labels: { ...e.labels }, n: e.n }));
  }
}
