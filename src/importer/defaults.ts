/**
 * The import's tunables and their defaults, in one place: the CLI's flag defaults and the tests'
 * import options both come from here (issue 16 §3).
 */
export const IMPORT_DEFAULTS = {
  /** Repositories read at once (`--concurrency`). */
  concurrency: 8,
  /** Tag links read at once within a repository (`--tag-concurrency`, 1-5; GitLab's default is 1). */
  tagConcurrency: 1,
  /** Other storage reads at once within a repository (manifests, configs, layer checks). */
  readConcurrency: 8,
  /** Rows per batch, one transaction each (`--batch-size`). */
  batchRows: 20_000,
  /** Manifest and config payload bytes per batch: a few huge manifests end a batch early. */
  batchBytes: 64 << 20,
  /** Repositories whose database state one query reads. */
  stateChunk: 32,
  /** Step one skips repositories pre-imported this recently (`--pre-import-skip-recent`, 72h). */
  preImportSkipRecentMs: 72 * 3_600_000,
} as const;
