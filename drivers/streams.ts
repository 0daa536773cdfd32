/** Stream helpers shared by the object-store backends. */
import type { Readable } from 'node:stream';

/** Reads a whole stream, failing with `tooLarge()` as soon as it exceeds `maxBytes`. */
export async function readCapped(body: Readable, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += buf.length;
    if (total > maxBytes) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
