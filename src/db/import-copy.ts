/**
 * COPY of a batch's rows into the TEMP staging tables (import-sql.ts), as pg-copy-streams documents
 * it: `pipeline(source, client.query(copyFrom(sql)))` on the batch's client, ~1 MiB chunks, with
 * backpressure. `seq` keeps the order rows were built in, for the merges' ORDER BY.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { RepositoryRows } from './import-rows.js';
import { digestToBytea } from '../registry/digest.js';
import { copyChunks, type CopyValue } from './copy-text.js';
import * as SQL from './import-sql.js';

const { from: copyFrom } = copyStreams;

/** Called once a COPY has sent its first chunk, before it ends (ImportEvents' `copy` point). */
export type OnCopySent = () => void | Promise<void>;

export async function copyRows<T>(
  c: pg.ClientBase,
  sql: string,
  rows: Iterable<T>,
  values: (row: T) => readonly CopyValue[],
  onSent?: OnCopySent,
): Promise<void> {
  const chunks = copyChunks(rows, values);
  await pipeline(Readable.from(onSent ? afterFirst(chunks, onSent) : chunks), c.query(copyFrom(sql)));
}

async function* afterFirst(chunks: Iterable<Buffer>, onSent: OnCopySent): AsyncGenerator<Buffer> {
  let first = true;
  for (const chunk of chunks) {
    yield chunk;
    if (first) {
      first = false;
      await onSent();
    }
  }
}

/** A repository's tags are made equal to storage when its rows carry a tag set (step two). */
export async function copyRepositoryRows(
  c: pg.ClientBase,
  repos: readonly RepositoryRows[],
  onSent?: OnCopySent,
): Promise<void> {
  let seq = 0;
  const b = digestToBytea;
  await copyRows(
    c,
    SQL.COPY.repositories,
    repos,
    (r) => [seq++, r.namespace, r.path, r.name, r.lastPublishedAt, r.tags !== null],
    onSent,
  );
  const each = <T>(pick: (r: RepositoryRows) => readonly T[]) =>
    (function* () {
      for (const r of repos) for (const x of pick(r)) yield [r.path, x] as const;
    })();
  await copyRows(
    c,
    SQL.COPY.blobs,
    each((r) => r.blobs),
    ([, x]) => [seq++, b(x.digest), x.size],
    onSent,
  );
  await copyRows(
    c,
    SQL.COPY.repositoryBlobs,
    each((r) => r.repositoryBlobs),
    ([p, d]) => [seq++, p, b(d)],
    onSent,
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
    onSent,
  );
  await copyRows(
    c,
    SQL.COPY.layers,
    each((r) => r.layers),
    ([p, l]) => [seq++, p, b(l.manifestDigest), b(l.digest), l.mediaType, l.size],
    onSent,
  );
  await copyRows(
    c,
    SQL.COPY.references,
    each((r) => r.references),
    ([p, x]) => [seq++, p, b(x.parentDigest), b(x.childDigest)],
    onSent,
  );
  if (repos.some((r) => r.tags !== null)) {
    await copyRows(
      c,
      SQL.COPY.tags,
      each((r) => r.tags ?? []),
      ([p, t]) => [seq++, p, t.name, b(t.manifestDigest)],
      onSent,
    );
  }
}
