/**
 * The import's tunables and their defaults, in one place: the CLI's flag defaults and the tests'
 * import options both come from here (issue 16 §3).
 */
export const IMPORT_DEFAULTS = {
  /** Repositories read at once (`--concurrency`) from a filesystem, whose reads cost CPU, not waiting. */
  concurrency: 8,
  /**
   * Repositories read at once from S3 or GCS: each waits a round trip per stage (manifests, then
   * configs and layers), so eight at 30 ms leave the store mostly idle; the driver's adaptive
   * in-flight limit (`--storage-concurrency`) is what bounds the requests.
   */
  objectStoreConcurrency: 64,
  /** Tag links read at once within a repository (`--tag-concurrency`, 1-5; GitLab's default is 1). */
  tagConcurrency: 1,
  /** Other storage reads at once within a repository (manifests, configs, layer checks). */
  readConcurrency: 8,
  /**
   * The same from S3 or GCS, where each read waits a round trip: a repository of 80 tags took 1.6 s
   * at 8 (30 ms a request), holding back every batch behind it. Its requests go first while it is the
   * oldest in the window (their priority is its place in the walk), so 32 let it finish early.
   */
  objectStoreReadConcurrency: 32,
  /** Rows per batch, one transaction each (`--batch-size`). */
  batchRows: 20_000,
  /** Manifest and config payload bytes per batch: a few huge manifests end a batch early. */
  batchBytes: 64 << 20,
  /** Repositories whose database state one query reads. */
  stateChunk: 32,
  /** Step one skips repositories pre-imported this recently (`--pre-import-skip-recent`, 72h). */
  preImportSkipRecentMs: 72 * 3_600_000,
} as const;
