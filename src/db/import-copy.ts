/**
 * COPY of a batch's rows into the TEMP staging tables (import-sql.ts), as pg-copy-streams documents
 * it: `pipeline(source, client.query(copyFrom(sql)))` on the batch's client, ~1 MiB chunks, with
 * backpressure. `seq` keeps the order rows were built in, for the merges' ORDER BY.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { BlobRow, RepositoryRows } from './import-rows.js';
import { copyChunks, type CopyValue } from './copy-text.js';
import { STAGING, copySql, copyValues, type InRepository, type StagingTable } from './import-staging.js';

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

/** Where `seq` continues across the tables of one batch. */
export interface SeqCounter {
  next: number;
}

/** COPY of `rows` into the staging table `t` (import-staging.ts). */
export async function copyStaged<R>(
  c: pg.ClientBase,
  t: StagingTable<R>,
  rows: Iterable<R>,
  seq: SeqCounter,
  onSent?: OnCopySent,
): Promise<void> {
  const values = copyValues(t);
  await copyRows(c, copySql(t), rows, (r) => values(r, seq.next++), onSent);
}

/** A batch of repositories' rows, table by table; tags only when some repository carries a tag set. */
export async function copyRepositoryRows(
  c: pg.ClientBase,
  repos: readonly RepositoryRows[],
  onSent?: OnCopySent,
): Promise<void> {
  const seq: SeqCounter = { next: 0 };
  const copy = <R>(t: StagingTable<R>, rows: Iterable<R>) => copyStaged(c, t, rows, seq, onSent);
  type PerRepository = 'repositoryBlobs' | 'manifests' | 'layers' | 'references' | 'tags';
  function* each<K extends PerRepository>(
    key: K,
  ): Generator<InRepository<NonNullable<RepositoryRows[K]>[number]>> {
    for (const r of repos) for (const x of r[key] ?? []) yield [r.path, x];
  }
  await copy(STAGING.repositories, repos);
  await copy(STAGING.blobs, blobsOf(repos));
  await copy(STAGING.repositoryBlobs, each('repositoryBlobs'));
  await copy(STAGING.manifests, each('manifests'));
  await copy(STAGING.layers, each('layers'));
  await copy(STAGING.references, each('references'));
  if (repos.some((r) => r.tags !== null)) await copy(STAGING.tags, each('tags'));
}

function* blobsOf(repos: readonly RepositoryRows[]): Generator<BlobRow> {
  for (const r of repos) yield* r.blobs;
}
