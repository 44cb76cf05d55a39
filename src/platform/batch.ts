// Group commit: writes that arrive while one is in flight go out together as the next one. Alone,
// a write goes at once (no added wait); under load, a burst of concurrent forgot-password requests
// costs one INSERT and one commit per round trip instead of one each.
export type BatchWrite<T> = (items: T[]) => Promise<void>;
/** A call for several items at once that answers each of them: one result per item, in order. */
export type BatchCall<T, R> = (items: T[]) => Promise<R[]>;

export function batched<T>(write: BatchWrite<T>, maxBatch = 500): (item: T) => Promise<void> {
  return batchedCalls<T, void>(async (items) => {
    await write(items);
    return items.map(() => undefined);
  }, maxBatch);
}

/**
 * As batched(), for calls whose callers each need their own answer (the rate limits' counting).
 * Up to `inFlight` calls may be under way at once, each with the items waiting when it left.
 */
export function batchedCalls<T, R>(call: BatchCall<T, R>, maxBatch = 500, inFlight = 1): (item: T) => Promise<R> {
  let queue: { item: T; resolve(r: R): void; reject(e: unknown): void }[] = [];
  let flushing = 0;

  async function flush(): Promise<void> {
    flushing++;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        const results = await call(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i]!));
      } catch (e) {
        if (batch.length === 1) { batch[0]!.reject(e); continue; }
        // One bad item must not fail its neighbours: alone, each succeeds or fails on its own, all
        // at once (as separate requests would), so a database outage still fails them fast.
        // Nothing is accepted unwritten.
        await Promise.all(batch.map((b) => call([b.item]).then(([r]) => b.resolve(r!), b.reject)));
      }
    }
    flushing--;
  }

  return (item) => new Promise<R>((resolve, reject) => {
    queue.push({ item, resolve, reject });
    if (flushing < inFlight) void flush();
  });
}

/** The list in consecutive slices of at most `size` items, in order (statements kept to a bounded size). */
export function slices<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
