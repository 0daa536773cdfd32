/**
 * One spec per staging table (import-sql.ts merges from them): its columns, their SQL types and how
 * each value comes from a row. The TEMP table's DDL, the COPY column list and the values COPY sends
 * are all derived from it, so they cannot disagree by position. Every table also has `seq` first: the
 * order rows were built in, for the merges' ORDER BY.
 */
import { digestToBytea, type Digest } from '../registry/digest.js';
import type { CopyValue } from './copy-text.js';
import type { BlobRow, LayerRow, ManifestRow, ReferenceRow, RepositoryRows, TagRow } from './import-rows.js';

export interface StagingColumn<R> {
  readonly name: string;
  readonly type: string;
  readonly value: (row: R) => CopyValue;
}

export interface StagingTable<R> {
  readonly name: string;
  readonly columns: readonly StagingColumn<R>[];
}

/** A row of a table that belongs to one repository: the repository's path and the row. */
export type InRepository<R> = readonly [path: string, row: R];

const b = digestToBytea;
const bOrNull = (d: Digest | null): Buffer | null => (d === null ? null : b(d));

function table<R>(name: string, columns: [string, string, (row: R) => CopyValue][]): StagingTable<R> {
  return { name, columns: columns.map(([n, type, value]) => ({ name: n, type, value })) };
}

const path = <R>(): [string, string, (row: InRepository<R>) => CopyValue] => ['path', 'text', ([p]) => p];

export const STAGING = {
  repositories: table<RepositoryRows>('regdb_stg_repositories', [
    ['namespace', 'text', (r) => r.namespace],
    ['path', 'text', (r) => r.path],
    ['name', 'text', (r) => r.name],
    ['last_published_at', 'timestamptz', (r) => r.lastPublishedAt],
    // The repository's tags are made equal to storage: its rows carry a tag set (step two).
    ['sync_tags', 'boolean', (r) => r.tags !== null],
  ]),
  blobs: table<BlobRow>('regdb_stg_blobs', [
    ['digest', 'bytea', (x) => b(x.digest)],
    ['size', 'bigint', (x) => x.size],
  ]),
  repositoryBlobs: table<InRepository<Digest>>('regdb_stg_repository_blobs', [
    path(),
    ['digest', 'bytea', ([, d]) => b(d)],
  ]),
  manifests: table<InRepository<ManifestRow>>('regdb_stg_manifests', [
    path(),
    ['digest', 'bytea', ([, m]) => b(m.digest)],
    ['schema_version', 'smallint', ([, m]) => m.schemaVersion],
    ['media_type', 'text', ([, m]) => m.mediaType],
    ['payload', 'bytea', ([, m]) => m.payload],
    ['total_size', 'bigint', ([, m]) => m.totalSize],
    ['config_media_type', 'text', ([, m]) => m.configMediaType],
    ['config_digest', 'bytea', ([, m]) => bOrNull(m.configDigest)],
    ['config_payload', 'bytea', ([, m]) => m.configPayload],
    ['non_conformant', 'boolean', ([, m]) => m.nonConformant],
    ['subject_digest', 'bytea', ([, m]) => bOrNull(m.subjectDigest)],
    ['artifact_media_type', 'text', ([, m]) => m.artifactMediaType],
  ]),
  layers: table<InRepository<LayerRow>>('regdb_stg_layers', [
    path(),
    ['manifest_digest', 'bytea', ([, l]) => b(l.manifestDigest)],
    ['digest', 'bytea', ([, l]) => b(l.digest)],
    ['media_type', 'text', ([, l]) => l.mediaType],
    ['size', 'bigint', ([, l]) => l.size],
  ]),
  references: table<InRepository<ReferenceRow>>('regdb_stg_references', [
    path(),
    ['parent_digest', 'bytea', ([, x]) => b(x.parentDigest)],
    ['child_digest', 'bytea', ([, x]) => b(x.childDigest)],
  ]),
  tags: table<InRepository<TagRow>>('regdb_stg_tags', [
    path(),
    ['name', 'text', ([, t]) => t.name],
    ['manifest_digest', 'bytea', ([, t]) => b(t.manifestDigest)],
    // The tag's push time from storage (--tag-timestamps storage); NULL: the import's time.
    ['pushed_at', 'timestamptz', ([, t]) => t.pushedAt ?? null],
  ]),
} as const;

/** A table's name and columns, whatever its row type. */
type TableShape = Pick<StagingTable<never>, 'name'> & {
  readonly columns: readonly Pick<StagingColumn<never>, 'name' | 'type'>[];
};

export function stagingDdl(t: TableShape): string {
  const cols = t.columns.map((c) => `${c.name} ${c.type}`).join(', ');
  return `CREATE TEMP TABLE IF NOT EXISTS ${t.name} (seq bigint, ${cols});`;
}

export function copySql(t: TableShape): string {
  return `COPY ${t.name} (seq, ${t.columns.map((c) => c.name).join(', ')}) FROM STDIN`;
}

/** A row's COPY values in the spec's column order, `seq` first. */
export function copyValues<R>(t: StagingTable<R>): (row: R, seq: number) => CopyValue[] {
  const fns = t.columns.map((c) => c.value);
  return (row, seq) => {
    const out: CopyValue[] = [seq];
    for (const f of fns) out.push(f(row));
    return out;
  };
}
