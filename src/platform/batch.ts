// Group commit: writes that arrive while one is in flight go out together as the next one. Alone,
// a write goes at once (no added wait); under load, a burst of concurrent forgot-password requests
// costs one INSERT and one commit per round trip instead of one each.
export type BatchWrite<T> = (items: T[]) => Promise<void>;

export function batched<T>(write: BatchWrite<T>, maxBatch = 500): (item: T) => Promise<void> {
  let queue: { item: T; resolve(): void; reject(e: unknown): void }[] = [];
  let flushing = false;

  async function flush(): Promise<void> {
    flushing = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await write(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (e) {
        if (batch.length === 1) { batch[0]!.reject(e); continue; }
        // One bad row must not fail its neighbours: alone, each succeeds or fails on its own, all
        // at once (as separate requests would), so a database outage still fails them fast.
        // Nothing is accepted unwritten.
        await Promise.all(batch.map((b) => write([b.item]).then(b.resolve, b.reject)));
      }
    }
    flushing = false;
  }

  return (item) => new Promise<void>((resolve, reject) => {
    queue.push({ item, resolve, reject });
    if (!flushing) void flush();
  });
}
