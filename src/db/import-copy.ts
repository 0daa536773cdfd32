/**
 * COPY of a batch's rows into the TEMP staging tables (import-sql.ts), as pg-copy-streams documents
 * it: `pipeline(source, client.query(copyFrom(sql)))` on the batch's client, ~1 MiB chunks, with
 * backpressure. `seq` keeps the order rows were built in, for the merges' ORDER BY.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { RepositoryRows } from '../importer/types.js';
import { withCopyKillPoint } from '../importer/test-hooks.js';
import { digestToBytea } from '../registry/digest.js';
import { copyChunks, type CopyValue } from './copy-text.js';
import * as SQL from './import-sql.js';

const { from: copyFrom } = copyStreams;

export async function copyRows<T>(
  c: pg.ClientBase,
  sql: string,
  rows: Iterable<T>,
  values: (row: T) => readonly CopyValue[],
): Promise<void> {
  await pipeline(Readable.from(withCopyKillPoint(copyChunks(rows, values))), c.query(copyFrom(sql)));
}

export async function copyRepositoryRows(
  c: pg.ClientBase,
  step: 1 | 2,
  repos: readonly RepositoryRows[],
): Promise<void> {
  let seq = 0;
  const b = digestToBytea;
  await copyRows(c, SQL.COPY.repositories, repos, (r) => [
    seq++,
    r.namespace,
    r.path,
    r.name,
    r.lastPublishedAt,
    step === 2,
  ]);
  const each = <T>(pick: (r: RepositoryRows) => readonly T[]) =>
    (function* () {
      for (const r of repos) for (const x of pick(r)) yield [r.path, x] as const;
    })();
  await copyRows(
    c,
    SQL.COPY.blobs,
    each((r) => r.blobs),
    ([, x]) => [seq++, b(x.digest), x.size],
  );
  await copyRows(
    c,
    SQL.COPY.repositoryBlobs,
    each((r) => r.repositoryBlobs),
    ([p, d]) => [seq++, p, b(d)],
  );
  await copyRows(
    c,
    SQL.COPY.manifests,
    each((r) => r.manifests),
    ([p, m]) => [
      seq++,
      p,
      b(m.digest),
      m.schemaVersion,
      m.mediaType,
      m.payload,
      m.totalSize,
      m.configMediaType,
      m.configDigest && b(m.configDigest),
      m.configPayload,
      m.nonConformant,
      m.subjectDigest && b(m.subjectDigest),
      m.artifactMediaType,
    ],
  );
  await copyRows(
    c,
    SQL.COPY.layers,
    each((r) => r.layers),
    ([p, l]) => [seq++, p, b(l.manifestDigest), b(l.digest), l.mediaType, l.size],
  );
  await copyRows(
    c,
    SQL.COPY.references,
    each((r) => r.references),
    ([p, x]) => [seq++, p, b(x.parentDigest), b(x.childDigest)],
  );
  if (step === 2) {
    await copyRows(
      c,
      SQL.COPY.tags,
      each((r) => r.tags ?? []),
      ([p, t]) => [seq++, p, t.name, b(t.manifestDigest), t.pushedAt ?? null],
    );
  }
}
