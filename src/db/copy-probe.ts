/**
 * The database side of `regdb inventory` (issue 14 §1): a short COPY into a TEMP table shaped like
 * the import's staging rows (a digest, a path, a ~1 KB payload), then an INSERT … SELECT of those
 * rows into a second TEMP table with a unique index (what a merge costs per row). In one transaction
 * that is rolled back: nothing persists, nothing of GitLab's tables is touched.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { copyChunks } from './copy-text.js';

const { from: copyFrom } = copyStreams;

export interface CopyProbe {
  readonly rows: number;
  readonly copyRowsPerSecond: number;
  readonly mergeRowsPerSecond: number;
}

export async function probeCopy(pool: pg.Pool, rows = 20_000): Promise<CopyProbe> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query(`CREATE TEMP TABLE regdb_probe (seq bigint, path text, digest bytea, payload bytea) ON COMMIT DROP;
      CREATE TEMP TABLE regdb_probe_merged (seq bigint, path text, digest bytea PRIMARY KEY, payload bytea) ON COMMIT DROP`);
    const payload = randomBytes(1024);
    const source = function* () {
      for (let i = 0; i < rows; i++) yield i;
    };
    const t0 = performance.now();
    await pipeline(
      Readable.from(
        copyChunks(source(), (i) => [i, `probe/repository-${i % 500}`, randomBytes(33), payload]),
      ),
      client.query(copyFrom('COPY regdb_probe (seq, path, digest, payload) FROM STDIN')),
    );
    const t1 = performance.now();
    await client.query(
      'INSERT INTO regdb_probe_merged SELECT * FROM regdb_probe ORDER BY seq ON CONFLICT DO NOTHING',
    );
    const t2 = performance.now();
    return {
      rows,
      copyRowsPerSecond: rows / Math.max((t1 - t0) / 1000, 1e-6),
      mergeRowsPerSecond: rows / Math.max((t2 - t1) / 1000, 1e-6),
    };
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    client.release(broken);
  }
}
