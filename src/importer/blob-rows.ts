/**
 * Step three's rows of a batch, packed: a sha256 digest as its 32 bytes and a size as an int64, 40
 * bytes a row, where an object per row (digest object, hex string, BigInt) costs ~200 bytes of
 * JavaScript heap that V8 then lets grow by half again. Two batches of ~20,000 rows are alive at once
 * (one filling, one being written), so this keeps step three within the memory of the other steps.
 * Rows come back out as BlobRow objects, one at a time, in the order they were added.
 */
import type { Digest } from '../registry/digest.js';
import type { BlobRow } from '../db/import-rows.js';

const KEY_BYTES = 32;
const INT64_LIMIT = 2n ** 63n;

export class BlobRowBuffer implements Iterable<BlobRow> {
  private digests = Buffer.allocUnsafeSlow(KEY_BYTES * 1024);
  private sizes = new BigInt64Array(1024);
  /** Rows whose digest is not packable (another algorithm), by their position among all rows. */
  private readonly others = new Map<number, BlobRow>();
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(row: BlobRow): void {
    const i = this.count++;
    if (i === this.sizes.length) this.grow();
    const { digest, size } = row;
    // Buffer.write stops at a character that is not hex: only 32 bytes written make a packed row.
    const packed =
      digest.algorithm === 'sha256' &&
      digest.hex.length === 2 * KEY_BYTES &&
      size >= 0n &&
      size < INT64_LIMIT &&
      this.digests.write(digest.hex, i * KEY_BYTES, 'hex') === KEY_BYTES;
    if (packed) this.sizes[i] = size;
    else this.others.set(i, row);
  }

  *[Symbol.iterator](): Iterator<BlobRow> {
    for (let i = 0; i < this.count; i++) {
      const other = this.others.get(i);
      if (other !== undefined) {
        yield other;
        continue;
      }
      const hex = this.digests.toString('hex', i * KEY_BYTES, (i + 1) * KEY_BYTES);
      const digest: Digest = { algorithm: 'sha256', hex };
      yield { digest, size: this.sizes[i]! };
    }
  }

  private grow(): void {
    const digests = Buffer.allocUnsafeSlow(this.digests.length * 2);
    this.digests.copy(digests);
    this.digests = digests;
    const sizes = new BigInt64Array(this.sizes.length * 2);
    sizes.set(this.sizes);
    this.sizes = sizes;
  }
}
