/** Stream helpers shared by the object-store backends. */
import type { Readable } from 'node:stream';

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

/** Reads a whole stream into one Buffer, however long. */
export function readAll(body: Readable): Promise<Buffer> {
  return readCapped(body, Infinity, () => new Error('unreachable: no cap'));
}
