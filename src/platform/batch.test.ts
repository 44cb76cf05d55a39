import { describe, expect, it } from 'vitest';
import { batched, batchedCalls } from './batch.ts';

describe('batched writes (group commit)', () => {
  it('a lone write goes at once; writes arriving meanwhile go out together next', async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const write = batched<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((r) => { release = r; });
    });
    const first = write(1);
    expect(writes).toEqual([[1]]);
    const rest = [write(2), write(3), write(4)];
    expect(writes).toHaveLength(1); // waiting for the first round trip
    release();
    await Promise.all([first, ...rest]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
  });

  it('one bad item fails only its own caller: a failed batch is written again item by item', async () => {
    const written: string[] = [];
    let release!: () => void;
    const write = batched<string>(async (items) => {
      if (items.includes('bad')) throw new Error('rejected by the database');
      written.push(...items);
      if (written.length === 1) await new Promise<void>((r) => { release = r; });
    });
    const first = write('first');
    const rest = [write('a'), write('bad'), write('b')]; // queued behind the first: one batch
    release();
    const results = await Promise.allSettled([first, ...rest]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(written).toEqual(['first', 'a', 'b']);
  });

  it('every caller of a failed batch gets the error, and later writes still go', async () => {
    let fail = true;
    const write = batched<string>(async () => { if (fail) throw new Error('database down'); }, 2);
    const results = await Promise.allSettled([write('a'), write('b'), write('c')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    await expect(write('d')).resolves.toBeUndefined();
  });

  it('calls that answer each item: every caller gets its own answer, also when a batch is retried item by item', async () => {
    const calls: number[][] = [];
    let release!: () => void;
    const square = batchedCalls<number, number>(async (items) => {
      calls.push(items);
      if (calls.length === 1) await new Promise<void>((r) => { release = r; });
      if (items.includes(13) && items.length > 1) throw new Error('one bad item');
      if (items.includes(13)) throw new Error('13 is refused');
      return items.map((x) => x * x);
    });
    const first = square(2);
    const rest = [square(3), square(13), square(4)];
    release();
    const results = await Promise.allSettled([first, ...rest]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'refused'))).toEqual([4, 9, 'refused', 16]);
    expect(calls.slice(0, 2)).toEqual([[2], [3, 13, 4]]);
  });

  it('never writes more than maxBatch at once', async () => {
    const sizes: number[] = [];
    const write = batched<number>(async (items) => { sizes.push(items.length); await Promise.resolve(); }, 3);
    await Promise.all(Array.from({ length: 10 }, (_, i) => write(i)));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
  });
});
