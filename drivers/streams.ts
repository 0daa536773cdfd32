/** Response bodies and stream helpers shared by the object-store backends. */
import type { Readable } from 'node:stream';

/**
 * A response body, read one of three ways, once: whole (what an import reads: manifests, configs,
 * list pages), as a stream (blob contents), or dropped. The HTTP client (http1.ts) delivers bodies
 * this way without a stream per response; `streamBody` wraps a stream (the AWS SDK's).
 */
export interface ResponseBody {
  /** The whole body; fails with `tooLarge()` (and drops the rest) past `maxBytes`. */
  read(maxBytes?: number, tooLarge?: () => Error): Promise<Buffer>;
  /** The body as a stream. */
  stream(): Readable;
  /** Reads and drops the body. */
  discard(): void;
  /** Drops the body and what carries it now. */
  destroy(): void;
}

/** A stream as a ResponseBody. */
export function streamBody(body: Readable): ResponseBody {
  return {
    read: (maxBytes = Infinity, tooLarge = () => new Error('response body too large')) =>
      readCapped(body, maxBytes, tooLarge),
    stream: () => body,
    discard: () => void body.resume(),
    destroy: () => void body.destroy(),
  };
}

/** Where the pieces of a body go: each chunk, then its end or its failure. */
export interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  fail(err: Error): void;
}

/**
 * Collects a body into one Buffer: `done` resolves at its end, or rejects with `tooLarge()` as soon
 * as it exceeds `maxBytes` (then `overCap` is called, to stop what carries it) or with its failure.
 * Shared by streams (readCapped) and the HTTP client's responses (http1.ts).
 */
export function collectCapped(
  maxBytes: number,
  tooLarge: () => Error,
  overCap: () => void,
): { sink: BodySink; done: Promise<Buffer> } {
  const chunks: Buffer[] = [];
  let total = 0;
  let settled = false;
  let resolve!: (b: Buffer) => void;
  let reject!: (e: Error) => void;
  const done = new Promise<Buffer>((res, rej) => ((resolve = res), (reject = rej)));
  const fail = (err: Error): void => {
    if (settled) return;
    settled = true;
    reject(err);
  };
  const sink: BodySink = {
    data: (chunk) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) {
        fail(tooLarge());
        overCap();
        return;
      }
      chunks.push(chunk);
    },
    end: () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    },
    fail,
  };
  return { sink, done };
}

/**
 * Reads a whole stream, failing with `tooLarge()` as soon as it exceeds `maxBytes`. Data events, not
 * an async iterator: one is made per response otherwise, thousands a second in an import.
 */
export function readCapped(body: Readable, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const { sink, done } = collectCapped(maxBytes, tooLarge, () => body.destroy());
  body.on('data', (chunk: Buffer | Uint8Array) =>
    sink.data(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)),
  );
  body.once('end', sink.end);
  body.once('error', sink.fail);
  // Closed before its end without an error of its own: cut off.
  body.once('close', () =>
    sink.fail(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })),
  );
  return done;
}
