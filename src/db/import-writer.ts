/**
 * The importer's database side: one transaction per batch of repositories (or blob prefixes): COPY
 * the rows into TEMP staging tables, merge them set-based (import-sql.ts), and record the batch's
 * checkpoints in the same transaction, so a killed run resumes exactly where it stopped.
 * A dry run keeps one transaction open for the whole run and rolls it back, then puts the sequences
 * back (nextval is not transactional): nothing persists (issue 5 §2, "honest dry run").
 */
import type pg from 'pg';
import { silentLogger, type Logger } from '../log.js';
import { byteaToDigest, formatDigest } from '../registry/digest.js';
import { Step, type BlobRow, type RepositoryRows, type RepositoryStep } from './import-rows.js';
import type { ImportEvents, ImportPoint } from './import-events.js';
import { copyRepositoryRows, copyStaged } from './import-copy.js';
import { STAGING } from './import-staging.js';
import * as SQL from './import-sql.js';
import { chooseGcMode, type GcModeChoice } from './import-gc.js';
import { ImportGuard } from './import-guard.js';
import { isConnectionLost, isRolledBackTransient } from './sqlstate.js';
import { inTransaction, retrying } from './transaction.js';
import { insertedRows, type RowThrottle } from './write-throttle.js';

export type TableName =
  | 'media_types'
  | 'top_level_namespaces'
  | 'repositories'
  | 'blobs'
  | 'repository_blobs'
  | 'manifests'
  | 'layers'
  | 'manifest_references'
  | 'tags'
  | 'tags_deleted';

export type Inserted = Partial<Record<TableName, number>>;

/** Statistics counters of a batch, kept with its checkpoints (so resumed runs report totals). */
export interface BatchCounts {
  readonly repositories?: number;
  readonly tags?: number;
  readonly manifests?: number;
  readonly blobs?: number;
  readonly blobBytes?: bigint;
}

export type Batch =
  | {
      readonly kind: 'repositories';
      /** Recorded with the checkpoints; what is written follows from the rows themselves. */
      readonly step: RepositoryStep;
      readonly repositories: readonly RepositoryRows[];
      readonly checkpoints: readonly string[];
      readonly counts?: BatchCounts;
    }
  | {
      readonly kind: 'blobs';
      readonly step: typeof Step.commonBlobs;
      readonly blobs: Iterable<BlobRow>;
      readonly checkpoints: readonly string[];
      readonly counts?: BatchCounts;
    };

/** What an interrupted run of the same scope left: finished steps, done keys, counters so far. */
export interface ResumeState {
  readonly finished: boolean;
  readonly done: Set<string>;
  /** The key checkpointed last (null: none). */
  readonly last: string | null;
  readonly counts: Required<BatchCounts>;
}

export interface WriterOptions {
  readonly dryRun: boolean;
  readonly dynamicMediaTypes: boolean;
  /** Checkpoint scope: which steps and shard this run covers. */
  readonly scope: string;
  readonly logger?: Logger;
  /** Fill the GC queues set-based where that is provably equivalent (import-gc.ts); default true. */
  readonly setBasedGc?: boolean;
  /** `--max-rows-per-second` (issue 14 §6): paces batches by the rows they insert. */
  readonly throttle?: RowThrottle;
  /** Told when a batch reaches a point of interest (tests only). */
  readonly events?: ImportEvents;
}

export interface RepositoryState {
  readonly lastPublishedAt: Date | null;
  readonly manifests: Set<string>;
}

/** What a batch or a read retries: the server rolled it back for a passing reason, or the connection died. */
const retryable = (err: unknown): boolean => isRolledBackTransient(err) || isConnectionLost(err);

export class ImportWriter {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly opts: WriterOptions,
    private readonly logger: Logger,
    /** The dry run's single transaction. */
    private readonly dryClient: pg.PoolClient | null,
    private readonly sequences: { name: string; last_value: string | null; start_value: string }[],
    /** How GC queue rows are made: set-based, or by GitLab's row triggers. */
    readonly gc: GcModeChoice,
    /** Keeps dry runs and real imports of this database apart (import-guard.ts). */
    private readonly guard: ImportGuard,
  ) {}

  static async open(pool: pg.Pool, opts: WriterOptions): Promise<ImportWriter> {
    const logger = opts.logger ?? silentLogger;
    const guard = await ImportGuard.acquire(pool, opts.dryRun, logger);
    try {
      return await ImportWriter.openGuarded(pool, opts, logger, guard);
    } catch (err) {
      await guard.release();
      throw err;
    }
  }

  private static async openGuarded(
    pool: pg.Pool,
    opts: WriterOptions,
    logger: Logger,
    guard: ImportGuard,
  ): Promise<ImportWriter> {
    const gc = await chooseGcMode(pool, opts.setBasedGc ?? true);
    if (gc.mode === 'set-based') {
      logger.info(
        { gc_tracking: gc.mode },
        'GC queue rows are written set-based, row triggers off for bulk inserts',
      );
    } else {
      logger.info(
        { gc_tracking: gc.mode, reason: gc.reason },
        "GC queue rows are written by GitLab's row triggers",
      );
    }
    if (!opts.dryRun) {
      const client = await pool.connect();
      try {
        await inTransaction(client, async () => {
          await client.query(SQL.CHECKPOINT_DDL_LOCK);
          await client.query(SQL.CHECKPOINT_DDL);
        });
      } catch (err) {
        throw new Error(`Could not create the regdb_import checkpoint tables: ${(err as Error).message}`, {
          cause: err,
        });
      } finally {
        client.release();
      }
      return new ImportWriter(pool, opts, logger, null, [], gc, guard);
    }
    const { rows } = await pool.query<{ name: string; last_value: string | null; start_value: string }>(
      SQL.SEQUENCES,
    );
    const client = await pool.connect();
    await client.query('BEGIN');
    return new ImportWriter(pool, opts, logger, client, rows, gc, guard);
  }

  /**
   * The connection batches are written on, kept from one batch to the next (and from step to step)
   * between writes: its session already has the TEMP staging tables and has read the catalog of the
   * 64-way partitioned tables. A batch on a connection new to them spent 0.2 s more (step two's first
   * batch of the 3,000-tag tree: 0.37 s on the connection the state reads had used, 0.14 s for the
   * next one). Kept only while the pool has a connection left for reads (`pool.maxopen` of 2 or more).
   */
  private kept: { readonly client: pg.PoolClient; lost: boolean; readonly onError: () => void } | undefined;

  /** The kept write connection, or a pooled one; a kept one that failed while idle is let go. */
  private async writeConnection(): Promise<pg.PoolClient> {
    const kept = this.kept;
    this.kept = undefined;
    if (kept) {
      kept.client.off('error', kept.onError);
      if (!kept.lost) return kept.client;
      kept.client.release(true);
    }
    return this.pool.connect();
  }

  /** When each write connection was first used; one kept past `pool.maxlifetime` goes back. */
  private readonly firstUse = new WeakMap<pg.PoolClient, number>();

  /** After a write: keep its connection for the next one, or give it back. */
  private afterWrite(client: pg.PoolClient, broken: boolean): void {
    const now = Date.now();
    let since = this.firstUse.get(client);
    if (since === undefined) this.firstUse.set(client, (since = now));
    const lifetime = this.pool.options.maxLifetimeSeconds;
    const expired = lifetime !== undefined && lifetime > 0 && now - since >= lifetime * 1000;
    if (broken || expired || (this.pool.options.max ?? 10) < 2) return client.release(broken);
    // A kept connection is outside the pool: its errors (the server ending it while idle) are ours.
    const kept = { client, lost: false, onError: () => void (kept.lost = true) };
    client.on('error', kept.onError);
    this.kept = kept;
  }

  /** The dry-run client runs one piece of work at a time (pg clients do not multiplex queries). */
  private dryQueue: Promise<unknown> = Promise.resolve();

  private onDryClient<T>(fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
    const c = this.dryClient!;
    const next = this.dryQueue.then(() => fn(c));
    this.dryQueue = next.catch(() => undefined);
    return next;
  }

  /** Runs `fn` on the dry-run transaction, or on a pooled connection. */
  private async read<T>(fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
    if (this.dryClient) return this.onDryClient(fn);
    // Reads are idempotent: a full lock table or a lost connection is retried like a batch.
    return retrying(
      async () => {
        const client = await this.pool.connect();
        let broken = false;
        try {
          return await fn(client);
        } catch (err) {
          broken = true;
          throw err;
        } finally {
          client.release(broken);
        }
      },
      {
        retryable,
        onRetry: (err, attempt) => this.logger.warn({ err, attempt }, 'import read failed, retrying'),
      },
    );
  }

  async mediaTypes(): Promise<Set<string>> {
    return this.read(
      async (c) =>
        new Set((await c.query<{ media_type: string }>(SQL.MEDIA_TYPES)).rows.map((r) => r.media_type)),
    );
  }

  /** `last_published_at` and manifest digests the database holds for these repositories. */
  async repositoryState(paths: readonly string[]): Promise<Map<string, RepositoryState>> {
    return this.read(async (c) => {
      const out = new Map<string, RepositoryState>();
      const repos = await c.query<{
        id: string;
        top_level_namespace_id: string;
        path: string;
        last_published_at: Date | null;
      }>(SQL.REPOSITORY_STATE, [paths]);
      const byId = new Map<string, Set<string>>();
      const namespaces = new Set<string>();
      for (const r of repos.rows) {
        const manifests = new Set<string>();
        out.set(r.path, { lastPublishedAt: r.last_published_at, manifests });
        byId.set(r.id, manifests);
        namespaces.add(r.top_level_namespace_id);
      }
      if (out.size === 0) return out;
      const mans = await c.query<{ repository_id: string; digest: Buffer }>(SQL.REPOSITORY_MANIFESTS, [
        [...namespaces],
        [...byId.keys()],
      ]);
      for (const m of mans.rows) byId.get(m.repository_id)?.add(formatDigest(byteaToDigest(m.digest)));
      return out;
    });
  }

  /** Steps already finished and checkpoints of unfinished steps, for resuming (scope = this run's steps). */
  async resumeState(step: Step): Promise<ResumeState> {
    const zero = { repositories: 0, tags: 0, manifests: 0, blobs: 0, blobBytes: 0n };
    return this.read(async (c) => {
      const exists = await c.query<{ t: string | null }>(
        "SELECT to_regclass('regdb_import.steps')::text AS t",
      );
      if (exists.rows[0]?.t === null)
        return { finished: false, done: new Set<string>(), last: null, counts: zero };
      const steps = await c.query<{
        step: number;
        finished_at: Date | null;
        repositories: string;
        tags: string;
        manifests: string;
        blobs: string;
        blob_bytes: string;
      }>(SQL.STEP_STATE, [this.opts.scope]);
      const state = steps.rows.find((r) => r.step === step);
      const counts = state
        ? {
            repositories: Number(state.repositories),
            tags: Number(state.tags),
            manifests: Number(state.manifests),
            blobs: Number(state.blobs),
            blobBytes: BigInt(state.blob_bytes),
          }
        : zero;
      if (state?.finished_at) return { finished: true, done: new Set<string>(), last: null, counts };
      const keys = (await c.query<{ key: string }>(SQL.CHECKPOINT_KEYS, [this.opts.scope, step])).rows;
      return {
        finished: false,
        done: new Set(keys.map((r) => r.key)),
        last: keys.at(-1)?.key ?? null,
        counts,
      };
    });
  }

  /** Forget checkpoints of this scope (`--no-resume`, and after a complete run). No-op in a dry run. */
  async clearScope(): Promise<void> {
    if (this.dryClient) return;
    await this.pool.query(SQL.CLEAR_SCOPE_CHECKPOINTS, [this.opts.scope]);
    await this.pool.query(SQL.CLEAR_SCOPE_STEPS, [this.opts.scope]);
  }

  async startStep(step: Step): Promise<void> {
    if (!this.dryClient) await this.pool.query(SQL.START_STEP, [this.opts.scope, step]);
  }

  async finishStep(step: Step): Promise<void> {
    if (!this.dryClient) await this.pool.query(SQL.FINISH_STEP, [this.opts.scope, step]);
  }

  /** Write one batch in one transaction, retrying deadlocks and lost connections. */
  async write(batch: Batch): Promise<Inserted> {
    if (this.dryClient) return this.onDryClient((c) => this.writeOn(c, batch));
    // A connection lost between two statements (pg_terminate_backend, a network cut) surfaces on the
    // next query as an error without SQLSTATE ("not queryable"): retry it as a lost connection.
    let lost = false;
    await this.opts.throttle?.ready();
    return retrying(
      async () => {
        lost = false;
        const client = await this.writeConnection();
        let broken = false;
        const onLost = () => {
          lost = true;
        };
        client.on('error', onLost);
        try {
          const inserted = await inTransaction(
            client,
            async () => {
              const ins = await this.writeOn(client, batch);
              await this.reached('before-commit', batch.step);
              return ins;
            },
            { commit: () => this.run(client, 'commit', 'COMMIT'), onRollbackFailed: () => (broken = true) },
          );
          await this.reached('after-commit', batch.step);
          this.opts.throttle?.charge(insertedRows(inserted));
          return inserted;
        } catch (err) {
          broken = true;
          throw err;
        } finally {
          client.off('error', onLost);
          // `lost` too: the server's goodbye can come in the same read as COMMIT's reply, after the
          // batch succeeded (seen when the backend was killed as the batch ended).
          this.afterWrite(client, broken || lost);
        }
      },
      {
        retryable: (err) => lost || retryable(err),
        onRetry: (err, attempt) => this.logger.warn({ err, attempt }, 'import batch failed, retrying'),
      },
    );
  }

  private async reached(point: ImportPoint, step: Step): Promise<void> {
    await this.opts.events?.reached(point, step);
  }

  /** The `copy` point of `step`, when someone listens. */
  private copySent(step: Step): (() => Promise<void>) | undefined {
    return this.opts.events ? () => this.reached('copy', step) : undefined;
  }

  /** Seconds spent per statement kind since the last `takeTimings()` (logged at debug per step). */
  private timings = new Map<string, number>();

  private async timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.timings.set(label, (this.timings.get(label) ?? 0) + (performance.now() - t0) / 1000);
    }
  }

  /** Database seconds by statement since the last call, rounded to milliseconds. */
  takeTimings(): Record<string, number> {
    const out = Object.fromEntries([...this.timings].map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
    this.timings = new Map();
    return out;
  }

  private async run(c: pg.ClientBase, label: string, sql: string, params?: unknown[]): Promise<number> {
    return affectedRows(await this.timed(label, () => c.query(sql, params)));
  }

  /**
   * Sends a group's statements as one simple query (one round trip: from a busy importer each costs
   * a turn of its event loop, and a batch had 28 of them) and records what the counted ones inserted.
   */
  private async sendGroup(
    c: pg.ClientBase,
    label: string,
    group: StatementGroup,
    ins: Inserted,
  ): Promise<void> {
    const res: pg.QueryResult | pg.QueryResult[] = await this.timed(label, () => c.query(group.sql()));
    const results = Array.isArray(res) ? res : [res];
    group.counted.forEach((counted, i) => {
      if (counted !== undefined) ins[counted.table] = counted.count(results[i]!);
    });
  }

  /** A set-based merge (import-sql.ts `withGc`), sent alone. */
  private async merged(c: pg.ClientBase, label: string, sql: string): Promise<number> {
    return insertedCount(await this.timed(label, () => c.query(sql)));
  }

  private async writeOn(c: pg.ClientBase, batch: Batch): Promise<Inserted> {
    const bulk = this.gc.mode === 'set-based';
    const merge = (label: string, plain: string, setBased: string): Promise<number> =>
      bulk ? this.merged(c, label, setBased) : this.run(c, label, plain);
    await this.run(c, 'staging_ddl', SQL.STAGING_DDL);
    await c.query(SQL.SESSION_SETTINGS);
    const ins: Inserted = {};
    if (batch.kind === 'blobs') {
      await this.timed('copy', () =>
        copyStaged(c, STAGING.blobs, batch.blobs, { next: 0 }, this.copySent(batch.step)),
      );
      await this.run(c, 'analyze', SQL.ANALYZE_STAGED_BLOBS);
      if (bulk) await c.query(SQL.REPLICA_ON);
      ins.blobs = await merge('merge_blobs', SQL.MERGE_BLOBS, SQL.MERGE_BLOBS_BULK);
      await this.reached('merge', batch.step);
      if (bulk) await c.query(SQL.REPLICA_OFF);
      await this.checkpoint(c, batch.step, batch.checkpoints, batch.counts);
      return ins;
    }
    const repos = batch.repositories;
    await this.timed('copy', () => copyRepositoryRows(c, repos, this.copySent(batch.step)));
    // Merges as two groups of statements, one round trip each (StatementGroup). Each counted merge
    // is a set-based one (its row `n`) or GitLab's plain INSERT (its row count).
    const count = bulk ? insertedCount : affectedRows;
    const namesAndManifests = new StatementGroup()
      .add(SQL.ANALYZE_STAGING)
      .addIf(bulk, SQL.REPLICA_ON)
      .addIf(this.opts.dynamicMediaTypes, SQL.MERGE_MEDIA_TYPES, 'media_types', affectedRows)
      .add(SQL.MERGE_NAMESPACES, 'top_level_namespaces', affectedRows)
      .add(SQL.MERGE_REPOSITORIES, 'repositories', affectedRows)
      .add(SQL.FILL_REPO_MAP)
      .addIf(
        repos.some((r) => r.lastPublishedAt !== null),
        SQL.UPDATE_LAST_PUBLISHED,
      )
      .add(bulk ? SQL.MERGE_BLOBS_BULK : SQL.MERGE_BLOBS, 'blobs', count)
      .add(SQL.MERGE_REPOSITORY_BLOBS, 'repository_blobs', affectedRows)
      .add(bulk ? SQL.MERGE_MANIFESTS_BULK : SQL.MERGE_MANIFESTS, 'manifests', count);
    await this.sendGroup(c, 'merge_names_blobs_manifests', namesAndManifests, ins);
    await this.reached('merge', batch.step);
    const layersAndReferences = new StatementGroup()
      .add(SQL.FILL_MANIFEST_IDS)
      .add(SQL.SET_SUBJECTS)
      .add(bulk ? SQL.MERGE_LAYERS_BULK : SQL.MERGE_LAYERS, 'layers', count)
      .add(SQL.MERGE_REFERENCES, 'manifest_references', affectedRows);
    await this.sendGroup(c, 'merge_layers_references', layersAndReferences, ins);
    if (bulk) {
      await this.checkForeignKeys(c);
      // Tag changes keep GitLab's triggers: they queue what a switched or deleted tag leaves behind.
      await c.query(SQL.REPLICA_OFF);
    }
    if (repos.some((r) => r.tags !== null)) {
      // Repositories without tags yet (a first step two): only inserts, set-based (BATCH_HAS_TAGS).
      const untagged = bulk && !(await this.batchHasTags(c));
      if (untagged) {
        ins.tags_deleted = 0;
        await c.query(SQL.REPLICA_ON);
      } else {
        ins.tags_deleted = await this.run(c, 'delete_stale_tags', SQL.DELETE_STALE_TAGS);
      }
      ins.tags = await this.run(c, 'merge_tags', SQL.MERGE_TAGS);
      if (untagged) await c.query(SQL.REPLICA_OFF);
    }
    await this.checkpoint(c, batch.step, batch.checkpoints, batch.counts);
    return ins;
  }

  private async batchHasTags(c: pg.ClientBase): Promise<boolean> {
    const res = await this.timed('tags_check', () => c.query<{ tagged: boolean }>(SQL.BATCH_HAS_TAGS));
    return res.rows[0]?.tagged ?? true;
  }

  /** What the foreign-key triggers would have refused, had they been on (set-based mode only). */
  private async checkForeignKeys(c: pg.ClientBase): Promise<void> {
    const res = await this.timed('fk_check', () =>
      c.query<{ tbl: string; digest: Buffer }>(SQL.BULK_FK_CHECK),
    );
    const v = res.rows[0];
    if (v) {
      throw new Error(
        `a ${v.tbl} row of this batch refers to blob ${formatDigest(byteaToDigest(v.digest))}, which has no blobs row; ` +
          'nothing of the batch was written (this is a regdb bug: please report it)',
      );
    }
  }

  private async checkpoint(
    c: pg.ClientBase,
    step: Step,
    keys: readonly string[],
    counts: BatchCounts = {},
  ): Promise<void> {
    if (this.dryClient || keys.length === 0) return;
    await this.run(c, 'checkpoints', SQL.INSERT_CHECKPOINTS, [this.opts.scope, step, keys]);
    await this.run(c, 'checkpoints', SQL.ADD_STEP_COUNTS, [
      this.opts.scope,
      step,
      counts.repositories ?? 0,
      counts.tags ?? 0,
      counts.manifests ?? 0,
      counts.blobs ?? 0,
      (counts.blobBytes ?? 0n).toString(),
    ]);
  }

  async countRows(): Promise<{ repositories: bigint; manifests: bigint; blobs: bigint; tags: bigint }> {
    return this.read(async (c) => {
      const r = (await c.query<Record<string, string>>(SQL.COUNT_ROWS)).rows[0]!;
      return {
        repositories: BigInt(r.repositories!),
        manifests: BigInt(r.manifests!),
        blobs: BigInt(r.blobs!),
        tags: BigInt(r.tags!),
      };
    });
  }

  async insertStatistics(values: readonly unknown[]): Promise<void> {
    if (this.dryClient) return;
    await this.pool.query(SQL.INSERT_STATISTICS, values as unknown[]);
  }

  /** Ends the run: a dry run's transaction is rolled back and every sequence put back first. */
  async close(): Promise<void> {
    try {
      const kept = this.kept;
      this.kept = undefined;
      if (kept) {
        kept.client.off('error', kept.onError);
        kept.client.release(kept.lost);
      }
      await this.closeDryRun();
    } finally {
      await this.guard.release();
    }
  }

  private async closeDryRun(): Promise<void> {
    const c = this.dryClient;
    if (!c) return;
    // setval is not transactional, so a pooled connection puts the sequences back: the values drawn
    // must go back also when the dry run's own connection died (its transaction died with it, so a
    // failing ROLLBACK loses nothing).
    let broken = false;
    try {
      await this.dryQueue;
      await c.query('ROLLBACK');
    } catch (err) {
      broken = true;
      this.logger.debug({ err }, 'the dry run lost its connection before the rollback');
    } finally {
      c.release(broken);
    }
    for (const s of this.sequences) {
      if (s.last_value === null) await this.pool.query(SQL.RESTORE_SEQUENCE, [s.name, s.start_value, false]);
      else await this.pool.query(SQL.RESTORE_SEQUENCE, [s.name, s.last_value, true]);
    }
  }
}

/** `--require-empty-database` (spec §2.12, older fork): any repository, manifest, blob or tag row. */
export async function databaseHasRows(pool: pg.Pool): Promise<boolean> {
  const r = (await pool.query<Record<string, string>>(SQL.COUNT_ROWS)).rows[0]!;
  return Object.values(r).some((v) => BigInt(v) > 0n);
}

/** A set-based merge's result (import-sql.ts `withGc`): its single row holds the rows inserted. */
function insertedCount(r: pg.QueryResult): number {
  return (r.rows[0] as { n?: number } | undefined)?.n ?? 0;
}

function affectedRows(r: pg.QueryResult): number {
  return r.rowCount ?? 0;
}

/**
 * Statements without parameters sent together (PostgreSQL's simple query protocol runs them in
 * order, in the open transaction, and stops at the first error), with what each counted one inserts.
 */
class StatementGroup {
  private readonly statements: string[] = [];
  readonly counted: Array<{ table: TableName; count: (r: pg.QueryResult) => number } | undefined> = [];

  add(sql: string, table?: TableName, count?: (r: pg.QueryResult) => number): this {
    this.statements.push(sql);
    this.counted.push(table !== undefined && count !== undefined ? { table, count } : undefined);
    return this;
  }

  addIf(when: boolean, sql: string, table?: TableName, count?: (r: pg.QueryResult) => number): this {
    return when ? this.add(sql, table, count) : this;
  }

  sql(): string {
    // A statement's own trailing ';' would add an empty statement, and a result, between two others.
    return this.statements.map((q) => q.replace(/;\s*$/, '')).join(';\n');
  }
}
