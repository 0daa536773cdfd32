/**
 * BaseDriver (drivers/base.ts), the wrapper every driver method goes through, over a small in-memory
 * backend written here: what reaches the backend, what is counted, and what the caller gets back.
 * The expected errors are written out by hand from the contract (drivers/driver.ts, errors.ts).
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BaseDriver, type Counting } from '../../drivers/base.js';
import type * as D from '../../drivers/driver.js';
import {
  InvalidPathError,
  PathNotFoundError,
  StorageDriverError,
  UnreadablePathError,
} from '../../drivers/errors.js';

const NONE = { list: 0, get: 0, stat: 0, put: 0, delete: 0 };

/** Files in a Map; `failWith` makes every call throw that value instead. */
class MemoryDriver extends BaseDriver {
  readonly listingMd5 = false;
  readonly directoryWalk = true;
  readonly files = new Map<string, Buffer>();
  /** Every path the backend was handed, by method. */
  readonly seen: string[] = [];
  failWith: unknown;

  constructor(counting: Counting = 'calls') {
    super('memory', counting);
  }

  /** For 'backend' counting: the backend adds what it sends. */
  sendGets(n: number): void {
    this.requests.get += n;
  }

  async close(): Promise<void> {}

  private reach(method: string, path: string): void {
    this.seen.push(`${method} ${path}`);
    if (this.failWith !== undefined) throw this.failWith;
  }

  protected async statChecked(path: string): Promise<D.StatInfo> {
    this.reach('stat', path);
    const content = this.files.get(path);
    if (!content) throw new PathNotFoundError(path, this.name);
    return { path, isDir: false, size: content.length };
  }

  protected async listChecked(path: string): Promise<D.ListEntry[]> {
    this.reach('list', path);
    return [...this.files.keys()]
      .filter((p) => p.startsWith(`${path}/`))
      .map((p) => ({ path: p, isDir: false }));
  }

  protected async *walkChecked(prefix: string, _options: D.WalkOptions): AsyncIterable<D.FileInfo> {
    this.reach('walk', prefix);
    this.requests.list++;
    for (const [path, content] of this.files)
      if (path.startsWith(`${prefix}/`)) yield { path, size: content.length };
  }

  protected async readChecked(path: string, options: D.GetContentOptions): Promise<Buffer> {
    this.reach('get', path);
    const content = this.files.get(path);
    if (!content) throw new PathNotFoundError(path, this.name);
    return content.subarray(0, options.maxBytes);
  }

  protected async readManyChecked(
    paths: readonly string[],
    options: D.GetContentOptions,
  ): Promise<D.ContentResult[]> {
    this.seen.push(`getMany ${paths.join(',')}`);
    if (this.failWith !== undefined) throw this.failWith;
    return Promise.all(
      paths.map(async (path): Promise<D.ContentResult> => {
        const content = this.files.get(path);
        return content
          ? { path, content: content.subarray(0, options.maxBytes) }
          : { path, error: new PathNotFoundError(path, this.name) };
      }),
    );
  }

  protected async readerChecked(path: string): Promise<Readable> {
    this.reach('reader', path);
    return Readable.from([this.files.get(path) ?? Buffer.alloc(0)]);
  }

  protected async putChecked(path: string, content: Buffer, _options?: D.CallOptions): Promise<void> {
    this.reach('put', path);
    this.files.set(path, content);
  }

  protected async deleteChecked(path: string): Promise<void> {
    this.reach('delete', path);
    this.files.delete(path);
  }
}

const A = '/docker/a';
const B = '/docker/b';

function driver(counting: Counting = 'calls'): MemoryDriver {
  const d = new MemoryDriver(counting);
  d.files.set(A, Buffer.from('alpha'));
  d.files.set(B, Buffer.from('beta'));
  return d;
}

const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );

async function drain(it: AsyncIterable<D.FileInfo>): Promise<string[]> {
  const out: string[] = [];
  for await (const f of it) out.push(f.path);
  return out;
}

describe('BaseDriver counting', () => {
  it("counts each call passed on as one request of its kind ('calls'); a walk counts what the backend says", async () => {
    const d = driver();
    await d.stat(A);
    await caught(d.stat('/docker/missing'));
    await d.list('/docker');
    expect(await drain(d.walk('/docker'))).toEqual([A, B]);
    expect((await d.getContent(A, { maxBytes: 10 })).toString()).toBe('alpha');
    await d.getContents([A, B, '/docker/missing'], { maxBytes: 10 });
    (await d.reader(B)).destroy();
    await d.putContent('/docker/c', Buffer.from('c'));
    await d.delete('/docker/c');
    await d.delete('/docker/c');
    // stat 2 (found, not found), list 1 + the walk's 1, get 1 + 3 (a batch is 3 gets) + 1 reader.
    expect(d.requestCounts()).toEqual({ list: 2, get: 5, stat: 2, put: 1, delete: 2 });
  });

  it('counts a batch by its valid paths only, and not at all when it is refused', async () => {
    const d = driver();
    await d.getContents([A, 'docker/b', B, '/docker/../b'], { maxBytes: 10 });
    expect(d.requestCounts()).toEqual({ ...NONE, get: 2 });
    await caught(d.stat('relative'));
    await caught(d.putContent('/', Buffer.from('x')));
    expect(d.requestCounts()).toEqual({ ...NONE, get: 2 });
  });

  it("leaves counting to the backend ('backend'): a call adds nothing by itself", async () => {
    const d = driver('backend');
    await d.stat(A);
    await d.getContent(A, { maxBytes: 10 });
    await d.getContents([A, B], { maxBytes: 10 });
    expect(d.requestCounts()).toEqual(NONE);
    d.sendGets(3);
    expect(d.requestCounts()).toEqual({ ...NONE, get: 3 });
  });

  it('returns a snapshot, not the live counts', async () => {
    const d = driver();
    const before = d.requestCounts();
    await d.stat(A);
    expect(before).toEqual(NONE);
    expect(d.requestCounts().stat).toBe(1);
  });
});

describe('BaseDriver path checks', () => {
  it('refuses an invalid path with InvalidPathError naming the driver, before the backend sees it', async () => {
    const d = driver();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['stat', () => d.stat('/docker/../etc')],
      ['list', () => d.list('docker')],
      ['getContent', () => d.getContent('/docker//a', { maxBytes: 1 })],
      ['reader', () => d.reader('/docker/./a')],
      ['putContent', () => d.putContent('/docker/', Buffer.from('x'))],
      ['delete', () => d.delete('')],
    ];
    for (const [name, call] of calls) {
      const err = await caught(call());
      expect(err, name).toBeInstanceOf(InvalidPathError);
      expect((err as InvalidPathError).driver, name).toBe('memory');
      expect((err as InvalidPathError).message, name).toMatch(/^memory: invalid path /);
    }
    // walk refuses at the call, before any iteration.
    expect(() => d.walk('/docker/')).toThrow(InvalidPathError);
    expect(d.seen).toEqual([]);
  });

  it('refuses to write the root on every driver', async () => {
    const d = driver();
    const err = await caught(d.putContent('/', Buffer.from('x')));
    expect(err).toBeInstanceOf(InvalidPathError);
    expect(err).toMatchObject({ path: '/', driver: 'memory', reason: 'cannot write the root' });
    expect(d.seen).toEqual([]);
  });

  it('answers invalid paths of a batch in place and hands the backend only the valid ones', async () => {
    const d = driver();
    const results = await d.getContents([A, 'x', B, '/docker/missing', '/a//b'], { maxBytes: 10 });
    expect(results.map((r) => r.path)).toEqual([A, 'x', B, '/docker/missing', '/a//b']);
    expect(results.map((r) => r.content?.toString() ?? r.error?.name)).toEqual([
      'alpha',
      'InvalidPathError',
      'beta',
      'PathNotFoundError',
      'InvalidPathError',
    ]);
    expect(results[1]!.error).toMatchObject({ path: 'x', driver: 'memory', reason: 'not absolute' });
    expect(d.seen).toEqual([`getMany ${A},${B},/docker/missing`]);
  });
});

describe('BaseDriver abort', () => {
  it("rejects with the signal's reason before the backend sees the call, and counts nothing", async () => {
    const d = driver();
    const stop = new Error('stopped by the caller');
    const signal = AbortSignal.abort(stop);
    for (const call of [
      () => d.stat(A, { signal }),
      () => d.list('/docker', { signal }),
      () => d.getContent(A, { maxBytes: 10, signal }),
      () => d.getContents([A, B], { maxBytes: 10, signal }),
      () => d.reader(A, { signal }),
      () => d.putContent(A, Buffer.from('x'), { signal }),
      () => d.delete(A, { signal }),
    ]) {
      expect(await caught(call())).toBe(stop);
    }
    expect(() => d.walk('/docker', { signal })).toThrow(stop);
    expect(d.seen).toEqual([]);
    expect(d.requestCounts()).toEqual(NONE);
  });

  it('passes on what the backend throws once the caller has aborted, unwrapped', async () => {
    const d = driver();
    const controller = new AbortController();
    const stop = new Error('stopped');
    d.failWith = stop;
    const pending = d.getContent(A, { maxBytes: 10, signal: controller.signal });
    controller.abort(stop);
    expect(await caught(pending)).toBe(stop);
  });
});

describe('BaseDriver errors', () => {
  it('gives an untyped backend failure the driver name, the operation and the path, keeping it as cause', async () => {
    const d = driver();
    const boom = Object.assign(new Error('disk on fire'), { code: 'EIO' });
    d.failWith = boom;
    const cases: Array<[string, string, () => Promise<unknown>]> = [
      ['stat', A, () => d.stat(A)],
      ['list', '/docker', () => d.list('/docker')],
      ['getContent', A, () => d.getContent(A, { maxBytes: 10 })],
      ['reader', A, () => d.reader(A)],
      ['putContent', A, () => d.putContent(A, Buffer.from('x'))],
      ['delete', A, () => d.delete(A)],
    ];
    for (const [operation, path, call] of cases) {
      const err = (await caught(call())) as StorageDriverError;
      expect(err, operation).toBeInstanceOf(StorageDriverError);
      expect(err.message).toBe(`memory: ${operation} ${path} failed: disk on fire`);
      expect(err).toMatchObject({ driver: 'memory', operation, attempts: 1 });
      expect(err.details.path).toBe(path);
      expect(err.cause).toBe(boom);
    }
  });

  it('names the driver on a batch the backend could not read at all', async () => {
    const d = driver();
    d.failWith = 'not even an Error';
    const err = (await caught(d.getContents([A], { maxBytes: 10 }))) as StorageDriverError;
    expect(err).toBeInstanceOf(StorageDriverError);
    expect(err.message).toBe('memory: getContents failed: not even an Error');
    expect(err.cause).toBe('not even an Error');
  });

  it('passes typed errors through as the backend made them', async () => {
    const d = driver();
    const missing = await caught(d.stat('/docker/missing'));
    expect(missing).toBeInstanceOf(PathNotFoundError);
    expect(missing).toMatchObject({ path: '/docker/missing', driver: 'memory' });
    const cause = new Error('EACCES');
    const unreadable = new UnreadablePathError(A, 'memory', 'permission denied', { cause });
    d.failWith = unreadable;
    const err = await caught(d.getContent(A, { maxBytes: 10 }));
    expect(err).toBe(unreadable);
    expect((err as Error).cause).toBe(cause);
  });
});
