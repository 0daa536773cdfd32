/**
 * The import writer's input contract: the typed rows the importer builds and hands to ImportWriter,
 * keyed by natural keys (namespace name, repository path, digest, tag name). Ids are resolved later,
 * in SQL (import-sql.ts). They live here, on the lower side, so src/importer depends on src/db and
 * never the other way round (STYLE.md, issue 16).
 */
import type { Digest } from '../registry/digest.js';

/**
 * The import's steps (spec §2.1), by the numbers GitLab's flags (`--step-one`…), checkpoints and
 * `import_statistics` use for them.
 */
export const Step = {
  /** Step one: immutable repository data (manifests, layers, blobs), no tags. */
  preImport: 1,
  /** Step two: every repository, tags included. */
  allRepositories: 2,
  /** Step three: blobs of the common blob store. */
  commonBlobs: 3,
} as const;
export type Step = (typeof Step)[keyof typeof Step];
/** The steps that import repositories (one and two). */
export type RepositoryStep = Exclude<Step, typeof Step.commonBlobs>;

export interface BlobRow {
  readonly digest: Digest;
  readonly size: bigint;
}

export interface ManifestRow {
  readonly digest: Digest;
  readonly schemaVersion: number;
  readonly mediaType: string;
  readonly payload: Buffer;
  readonly totalSize: bigint;
  readonly configMediaType: string | null;
  readonly configDigest: Digest | null;
  readonly configPayload: Buffer | null;
  readonly nonConformant: boolean;
  readonly subjectDigest: Digest | null;
  readonly artifactMediaType: string | null;
}

export interface LayerRow {
  readonly manifestDigest: Digest;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: bigint;
}

export interface ReferenceRow {
  readonly parentDigest: Digest;
  readonly childDigest: Digest;
}

export interface TagRow {
  readonly name: string;
  readonly manifestDigest: Digest;
  /** `--tag-timestamps storage`: created_at/updated_at; undefined: the import time (GitLab). */
  readonly pushedAt?: Date;
}

/** Rows of one repository, in the order GitLab's importer would write them. */
export interface RepositoryRows {
  readonly namespace: string;
  readonly path: string;
  /** Last path segment. */
  readonly name: string;
  /** Set in step one (spec §2.2 step 7); null leaves the column alone. */
  readonly lastPublishedAt: Date | null;
  readonly blobs: readonly BlobRow[];
  /** Blob digests linked to the repository. */
  readonly repositoryBlobs: readonly Digest[];
  readonly manifests: readonly ManifestRow[];
  readonly layers: readonly LayerRow[];
  readonly references: readonly ReferenceRow[];
  /** Step two: the complete tag set the repository must end with; null in step one. */
  readonly tags: readonly TagRow[] | null;
  /** Counted per GitLab's rules (spec §2.14). */
  readonly counts: { readonly repositories: number; readonly tags: number; readonly manifests: number };
}
