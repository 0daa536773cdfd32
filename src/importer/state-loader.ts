/**
 * What the database holds for the repositories being read, one query per chunk of repositories rather
 * than one per repository: `get` queues a name and resolves once its chunk is read; a chunk is read
 * when it is full or `flush` is called (the pool flushes before it waits, so no job waits for a chunk
 * that only fills later).
 */

interface Waiting<S> {
  readonly name: string;
  readonly resolve: (state: S | undefined) => void;
  readonly reject: (err: unknown) => void;
}

export class StateLoader<S> {
  private chunk: Waiting<S>[] = [];

  constructor(
    private readonly load: (names: string[]) => Promise<ReadonlyMap<string, S>>,
    private readonly chunkSize: number,
  ) {}

  /** The state of `name` (undefined: the database has none). */
  get(name: string): Promise<S | undefined> {
    const p = new Promise<S | undefined>((resolve, reject) => this.chunk.push({ name, resolve, reject }));
    // Awaited by the job that asked; a failure must not count as unhandled before that.
    p.catch(() => undefined);
    if (this.chunk.length >= this.chunkSize) this.flush();
    return p;
  }

  /** Reads the chunk gathered so far. */
  flush(): void {
    if (this.chunk.length === 0) return;
    const c = this.chunk;
    this.chunk = [];
    this.load(c.map((x) => x.name)).then(
      (m) => c.forEach((x) => x.resolve(m.get(x.name))),
      (err: unknown) => c.forEach((x) => x.reject(err)),
    );
  }
}
