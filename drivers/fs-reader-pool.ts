/**
 * A pool of worker threads that read small files with synchronous I/O, in batches. On a tree of
 * 240,000 link files, one `fs.promises.readFile` per file costs ~10x what `cat` does (libuv thread-pool
 * round trips and promise churn per file); synchronous open/read/close in a few threads, with results
 * shipped back as one transferred buffer per batch, is within reach of `cat`. Callers queue single
 * reads; the pool groups whatever has queued up while the workers were busy.
 */
import { Worker } from 'node:worker_threads';

/** Outcome codes the worker reports per file. */
export enum ReadStatus {
  Ok = 0,
  NotFound = 1,
  TooLarge = 2,
  Escapes = 3,
  Failed = 4,
}

export type ReadResult =
  | { readonly status: ReadStatus.Ok; readonly content: Buffer }
  | { readonly status: ReadStatus.NotFound | ReadStatus.Escapes; readonly code?: string }
  | { readonly status: ReadStatus.TooLarge; readonly size: number }
  | { readonly status: ReadStatus.Failed; readonly code?: string; readonly message: string };

interface Job {
  readonly file: string;
  readonly maxBytes: number;
  readonly resolve: (r: ReadResult) => void;
}

interface BatchReply {
  readonly id: number;
  readonly buf: ArrayBuffer;
  readonly lengths: Int32Array;
  readonly status: Uint8Array;
  readonly sizes: Float64Array;
  readonly errors: Array<[number, string | undefined, string]>;
}

// Runs inside each worker (CommonJS, evaluated from this string so that it works the same from
// TypeScript sources under tsx/vitest and from the compiled dist/).
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const rootSlash = workerData.realRoot.endsWith('/') ? workerData.realRoot : workerData.realRoot + '/';
let scratch = Buffer.allocUnsafe(1 << 20);
function ensure(n) {
  if (n <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  scratch.copy(bigger);
  scratch = bigger;
}
function inside(real) { return real + '/' === rootSlash || real.startsWith(rootSlash); }
// Real paths of grandparent folders that reads share (blobs/sha256/xx, a repository's
// revisions/sha256): a read then costs two lstat calls where realpath(3) costs one per component.
// A folder is cached on its second miss only: most grandparents are read once (a tag's own
// folder), and caching those kept thousands of strings alive long enough to be promoted, which
// doubled each worker's heap. seenOnce remembers first misses by hash, holding no strings.
const dirs = new Map();
const seenOnce = new Int32Array(4096);
function hashOf(text) {
  let h = 0x811c9dc5 | 0;
  for (let c = 0; c < text.length; c++) h = Math.imul(h ^ text.charCodeAt(c), 0x01000193);
  return h | 1;
}
function realDir(dir) {
  let real = dirs.get(dir);
  if (real === undefined) {
    real = fs.realpathSync.native(dir);
    const h = hashOf(dir), slot = h & 4095;
    if (seenOnce[slot] !== h) seenOnce[slot] = h;
    else {
      if (dirs.size >= 1024) dirs.clear();
      dirs.set(dir, real);
    }
  }
  return real;
}
// The real path of file and its stat, without following anything outside the root (real is
// undefined then): a grandparent's real path from the cache, then the last two components by lstat
// when neither is a symlink; realpath otherwise. Only paths inside the root are stat'ed. When the
// grandparent is its own real path (the usual case) the paths are slices of file, not new strings.
function resolve(file) {
  const i = file.lastIndexOf('/'), j = file.lastIndexOf('/', i - 1);
  if (j > 0) {
    const dir = file.slice(0, j);
    const top = realDir(dir);
    if (inside(top)) {
      const real = top === dir ? file : top + file.slice(j);
      if (!fs.lstatSync(real.slice(0, real.length - file.length + i)).isSymbolicLink()) {
        const st = fs.lstatSync(real);
        if (!st.isSymbolicLink()) return { real, st };
      }
    }
  }
  const real = fs.realpathSync.native(file);
  return inside(real) ? { real, st: fs.statSync(real) } : { real: undefined };
}
function kindOf(st) { return st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : 'a device'; }
parentPort.on('message', (msg) => {
  const files = msg.files, limits = msg.limits, n = files.length;
  const lengths = new Int32Array(n), status = new Uint8Array(n), sizes = new Float64Array(n);
  const errors = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const file = files[i], maxBytes = limits[i], want = maxBytes + 1;
    let fd = -1;
    try {
      // Resolve and check before opening: nothing outside the root is opened, and a FIFO, socket
      // or device is never opened (a FIFO would block forever); O_NONBLOCK and O_NOFOLLOW cover a
      // swap meanwhile.
      const { real, st } = resolve(file);
      if (real === undefined) { status[i] = 3; continue; }
      if (st.isDirectory()) { status[i] = 1; errors.push([i, 'EISDIR', 'is a directory']); continue; }
      if (!st.isFile()) { status[i] = 4; errors.push([i, 'ENOTREG', 'not a regular file (' + kindOf(st) + ')']); continue; }
      fd = fs.openSync(real, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
      let got = 0;
      while (got < want) {
        ensure(pos + got + Math.min(want - got, 65536));
        const ask = Math.min(want - got, scratch.length - pos - got);
        const r = fs.readSync(fd, scratch, pos + got, ask, null);
        got += r;
        // A regular file returns fewer bytes than asked only at its end: no extra read for EOF.
        if (r < ask) break;
      }
      if (got > maxBytes) { status[i] = 2; sizes[i] = fs.fstatSync(fd).size; continue; }
      lengths[i] = got;
      pos += got;
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR' || e.code === 'EISDIR') { status[i] = 1; errors.push([i, e.code, e.message]); }
      else { status[i] = 4; errors.push([i, e.code, e.message]); }
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }
  const buf = new ArrayBuffer(pos);
  new Uint8Array(buf).set(scratch.subarray(0, pos));
  parentPort.postMessage({ id: msg.id, buf, lengths, status, sizes, errors }, [buf, lengths.buffer, status.buffer, sizes.buffer]);
});
`;

interface Slot {
  readonly worker: Worker;
  inflight: number;
}

export class FileReaderPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly batches = new Map<number, { slot: Slot; jobs: Job[] }>();
  private nextId = 1;
  private scheduled = false;
  private closed = false;
  private failure: Error | undefined;

  constructor(
    readonly threads: number,
    realRoot: string,
    /** Largest number of files sent to one worker at once. */
    private readonly batchSize = 256,
  ) {
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { realRoot } });
      const slot: Slot = { worker, inflight: 0 };
      worker.on('message', (reply: BatchReply) => this.onReply(reply));
      worker.on('error', (err) => this.fail(err));
      worker.unref();
      this.slots.push(slot);
    }
  }

  /** Reads `file` (an absolute on-disk path), refusing more than `maxBytes`. Never rejects for I/O errors. */
  read(file: string, maxBytes: number): Promise<ReadResult> {
    if (this.closed) return Promise.reject(new Error('the file reader pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve) => {
      this.queue.push({ file, maxBytes, resolve });
      if (this.queue.length >= this.batchSize * this.slots.length) this.dispatch();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.dispatch();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      // Two batches in flight per worker keep it busy while the previous reply is being unpacked.
      const slot = this.slots.reduce((a, b) => (b.inflight < a.inflight ? b : a));
      if (slot.inflight >= 2) return;
      const share = Math.ceil(this.queue.length / this.slots.length);
      const jobs = this.queue.splice(0, Math.max(1, Math.min(this.batchSize, share)));
      const id = this.nextId++;
      this.batches.set(id, { slot, jobs });
      if (slot.inflight++ === 0) slot.worker.ref();
      slot.worker.postMessage({
        id,
        files: jobs.map((j) => j.file),
        limits: jobs.map((j) => j.maxBytes),
      });
    }
  }

  private onReply(reply: BatchReply): void {
    const batch = this.batches.get(reply.id);
    if (!batch) return;
    this.batches.delete(reply.id);
    if (--batch.slot.inflight === 0) batch.slot.worker.unref();
    const errors = new Map(reply.errors.map(([i, code, message]) => [i, { code, message }]));
    let pos = 0;
    batch.jobs.forEach((job, i) => {
      const status = reply.status[i] as ReadStatus;
      const err = errors.get(i);
      switch (status) {
        case ReadStatus.Ok: {
          const len = reply.lengths[i] ?? 0;
          // A view into the batch's buffer (most reads are links, parsed at once): whoever keeps a
          // content long copies it (StorageDriver.getContent).
          job.resolve({ status, content: Buffer.from(reply.buf, pos, len) });
          pos += len;
          break;
        }
        case ReadStatus.TooLarge:
          job.resolve({ status, size: reply.sizes[i] ?? 0 });
          break;
        case ReadStatus.NotFound:
        case ReadStatus.Escapes:
          job.resolve({ status, code: err?.code });
          break;
        default:
          job.resolve({ status: ReadStatus.Failed, code: err?.code, message: err?.message ?? 'read failed' });
      }
    });
    this.dispatch();
  }

  private fail(err: Error): void {
    this.failure = new Error(`a file reader thread failed: ${err.message}`, { cause: err });
    for (const { jobs } of this.batches.values())
      for (const job of jobs) job.resolve({ status: ReadStatus.Failed, message: this.failure.message });
    this.batches.clear();
    for (const job of this.queue.splice(0))
      job.resolve({ status: ReadStatus.Failed, message: this.failure.message });
  }
}
