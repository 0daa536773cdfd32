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

/**
 * Reads a whole stream, failing with `tooLarge()` as soon as it exceeds `maxBytes`. Data events, not
 * an async iterator: one is made per response otherwise, thousands a second in an import.
 */
export function readCapped(body: Readable, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    body.on('data', (chunk: Buffer | Uint8Array) => {
      if (settled) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      total += buf.length;
      if (total > maxBytes) {
        fail(tooLarge());
        body.destroy();
        return;
      }
      chunks.push(buf);
    });
    body.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
    body.once('error', fail);
    // Closed before its end without an error of its own: cut off.
    body.once('close', () =>
      fail(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })),
    );
  });
}
