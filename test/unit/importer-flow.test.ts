/**
 * The pipeline's mechanisms (issue 16 §4): the in-order bounded pool, the batcher (row and byte
 * bounds, one write in flight) and the chunked state loader. Expected values are the contracts
 * written in each module's header, worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import { Batcher, eagerRows } from '../../src/importer/batcher.js';
import { OrderedPool } from '../../src/importer/ordered-pool.js';
import { StateLoader } from '../../src/importer/state-loader.js';

const tick = () => new Promise((r) => setTimeout(r, 0));

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A pool whose taken results are collected, in the order taken. */
function collecting(concurrency: number) {
  const taken: number[] = [];
  const pool = new OrderedPool<number>({ concurrency, window: 10, take: async (n) => void taken.push(n) });
  return { taken, pool };
}

describe('OrderedPool', () => {
  it('takes results in the order jobs were added, whatever order they finish in', async () => {
    const { taken, pool } = collecting(3);
    const gates = [deferred<number>(), deferred<number>(), deferred<number>()];
    for (const g of gates) await pool.run(() => g.promise);
    gates[2]!.resolve(2);
    gates[0]!.resolve(0);
    gates[1]!.resolve(1);
    await pool.drain();
    expect(taken).toEqual([0, 1, 2]);
  });

  it('runs at most `concurrency` jobs at once', async () => {
    let running = 0;
    let most = 0;
    const pool = new OrderedPool<void>({ concurrency: 2, window: 100, take: async () => undefined });
    for (let i = 0; i < 6; i++) {
      await pool.run(async () => {
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
      });
    }
    await pool.drain();
    expect(most).toBe(2);
  });

  it('takes each result once it and every earlier one are done, before the window fills', async () => {
    const { taken, pool } = collecting(3);
    const first = deferred<number>();
    await pool.run(() => first.promise);
    await pool.run(async () => 1);
    await tick();
    expect(taken).toEqual([]); // 1 is done, 0 is not
    first.resolve(0);
    await tick();
    expect(taken).toEqual([0, 1]); // taken without drain and with the window (10) far from full
    await pool.add(2);
    await tick();
    expect(taken).toEqual([0, 1, 2]);
    await pool.drain();
  });

  it('waits for room once `window` are pending, calling beforeWait first', async () => {
    const events: string[] = [];
    const gates = [deferred<number>(), deferred<number>()];
    const pool = new OrderedPool<number>({
      concurrency: 2,
      window: 2,
      take: async (n) => void events.push(`take ${n}`),
      beforeWait: () => events.push('wait'),
    });
    await pool.run(() => gates[0]!.promise);
    events.push('added 0');
    const second = pool.run(() => gates[1]!.promise).then(() => events.push('added 1'));
    await tick();
    expect(events).toEqual(['added 0', 'wait']);
    gates[0]!.resolve(0);
    await second;
    gates[1]!.resolve(1);
    await pool.drain();
    expect(events).toEqual(['added 0', 'wait', 'take 0', 'added 1', 'take 1']);
  });

  it('a slow take holds the pool back: pending results stay within the window', async () => {
    const gate = deferred<void>();
    const taken: number[] = [];
    const pool = new OrderedPool<number>({
      concurrency: 4,
      window: 3,
      take: async (n) => {
        taken.push(n);
        if (n === 0) await gate.promise;
      },
    });
    let added = 0;
    const adding = (async () => {
      for (let i = 0; i < 6; i++) {
        await pool.run(async () => i);
        added++;
      }
    })();
    for (let i = 0; i < 5; i++) await tick();
    // 0 is being taken (no longer pending); 1, 2, 3 fill the window; the adder waits to add 4.
    expect(taken).toEqual([0]);
    expect(added).toBe(3);
    gate.resolve();
    await adding;
    await pool.drain();
    expect(taken).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('rejects the next run or drain after a failed job, and abandon leaves no unhandled rejection', async () => {
    const { taken, pool } = collecting(2);
    await pool.add(1);
    await pool.run(async () => {
      throw new Error('read failed');
    });
    await tick();
    await expect(pool.run(async () => 3)).rejects.toThrow('read failed');
    await expect(pool.drain()).rejects.toThrow('read failed');
    expect(taken).toEqual([1]);
    pool.abandon();
  });

  it('rejects the next add and drain when take fails, and takes nothing after it', async () => {
    const taken: number[] = [];
    const pool = new OrderedPool<number>({
      concurrency: 2,
      window: 10,
      take: async (n) => {
        if (n === 1) throw new Error('write failed');
        taken.push(n);
      },
    });
    await pool.add(0);
    await pool.add(1);
    await tick();
    await expect(pool.add(2)).rejects.toThrow('write failed');
    await expect(pool.drain()).rejects.toThrow('write failed');
    expect(taken).toEqual([0]);
    pool.abandon();
  });
});

describe('Batcher', () => {
  const make = (limits: { rows: number; bytes: number }, write: (b: string[]) => Promise<void>) =>
    new Batcher<string[]>({ limits, create: () => [], isEmpty: (b) => b.length === 0, write });

  it('is full at the row bound or at the byte bound, whichever comes first', () => {
    const b = make({ rows: 3, bytes: 100 }, async () => undefined);
    b.added(2, 10);
    expect(b.full).toBe(false);
    b.added(1, 0);
    expect(b.full).toBe(true);
    const c = make({ rows: 3, bytes: 100 }, async () => undefined);
    c.added(1, 100);
    expect(c.full).toBe(true);
  });

  it('is ready at a tenth of the row bound while no write is in flight, and only full during one', async () => {
    const gate = deferred<void>();
    const b = make({ rows: 100, bytes: 1_000_000 }, () => gate.promise);
    b.current.push('a');
    b.added(9);
    expect(b.ready).toBe(false); // 9 < 10
    b.added(1);
    expect(b.ready).toBe(true); // idle writer, 10 rows
    await b.flush();
    b.current.push('b');
    b.added(50);
    expect(b.ready).toBe(false); // the first write is in flight: wait for 100
    b.added(50);
    expect(b.ready).toBe(true);
    gate.resolve();
    await b.finish();
    expect(eagerRows(20_000)).toBe(2_000);
    expect(eagerRows(5)).toBe(1);
  });

  it('writes batches in order with one write in flight, and skips empty ones', async () => {
    const writes: string[][] = [];
    const gate = deferred<void>();
    let inFlight = 0;
    let most = 0;
    const b = make({ rows: 1, bytes: 1 }, async (batch) => {
      inFlight++;
      most = Math.max(most, inFlight);
      writes.push(batch);
      if (writes.length === 1) await gate.promise;
      inFlight--;
    });
    await b.flush(); // empty: nothing written
    b.current.push('a');
    await b.flush();
    b.current.push('b');
    const second = b.flush(); // waits for the first write
    await tick();
    expect(writes).toEqual([['a']]);
    gate.resolve();
    await second;
    await b.finish();
    expect(writes).toEqual([['a'], ['b']]);
    expect(most).toBe(1);
  });

  it('reports a failed write at the next flush; settle waits for it without throwing', async () => {
    const b = make({ rows: 1, bytes: 1 }, async () => {
      throw new Error('deadlock');
    });
    b.current.push('a');
    await b.flush();
    b.current.push('b');
    await expect(b.flush()).rejects.toThrow('deadlock');
    await b.settle();
  });
});

describe('StateLoader', () => {
  it('reads a chunk when it is full, and the rest on flush', async () => {
    const queries: string[][] = [];
    const loader = new StateLoader<number>(async (names) => {
      queries.push(names);
      return new Map(names.filter((n) => n !== 'b').map((n) => [n, n.charCodeAt(0)]));
    }, 2);
    const a = loader.get('a');
    const b = loader.get('b');
    const c = loader.get('c');
    expect(queries).toEqual([['a', 'b']]);
    loader.flush();
    expect(await Promise.all([a, b, c])).toEqual([97, undefined, 99]);
    expect(queries).toEqual([['a', 'b'], ['c']]);
  });

  it('rejects every name of a chunk whose query failed', async () => {
    const loader = new StateLoader<number>(async () => {
      throw new Error('connection lost');
    }, 10);
    const a = loader.get('a');
    const b = loader.get('b');
    loader.flush();
    await expect(a).rejects.toThrow('connection lost');
    await expect(b).rejects.toThrow('connection lost');
  });
});
