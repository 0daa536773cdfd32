/**
 * FindJob of the synchronous runner (spec §5.4 step 3), with the two batching strategies of
 * spec §5.3. Runs inside the locked batch transaction.
 */
import { BbmValidationError, NoNullIndexError, WORK_FUNCTION_NOT_FOUND } from './errors.js';
import { BbmFailureCode, BbmStatus, batchingStrategyOf, type BbmJob, type BbmMigration } from './model.js';
import { isUsableBatchSize, nextSerialStart, serialEndWithoutLookup } from './plan.js';
import type { BbmTarget, BbmTx } from './store.js';
import type { WorkFunction, WorkRegistry } from './work.js';

export interface FoundJob {
  readonly migration: BbmMigration;
  readonly job: BbmJob;
  readonly target: BbmTarget;
  readonly work: WorkFunction;
}

export type FindResult =
  | { readonly kind: 'job'; readonly found: FoundJob }
  | { readonly kind: 'none' }
  /** The row was marked failed with the error's code: commit, then report the error. */
  | { readonly kind: 'invalid'; readonly error: BbmValidationError };

interface Validated {
  readonly target: BbmTarget;
  readonly work: WorkFunction;
  readonly strategy: 'serial' | 'null';
}

/** Checks a migration row against the registry and the catalog; the failure code says what is wrong. */
export async function validateMigration(
  tx: BbmTx,
  registry: WorkRegistry,
  m: BbmMigration,
): Promise<Validated | BbmValidationError> {
  const prefix = `background migration ${m.name}`;
  const work = registry.get(m.jobSignatureName);
  if (work === undefined) {
    return new BbmValidationError(
      `${prefix}: ${WORK_FUNCTION_NOT_FOUND}: job_signature_name "${m.jobSignatureName}" is not one of ` +
        `${registry.names().join(', ')}`,
      BbmFailureCode.invalidJobSignature,
      m.name,
    );
  }
  const strategy = batchingStrategyOf(m.batchingStrategy);
  if (strategy === undefined) {
    return new BbmValidationError(
      `${prefix}: invalid batching strategy "${String(m.batchingStrategy)}": expected NULL (serial key ranges) ` +
        `or NullKeySetBatchingStrategy`,
      BbmFailureCode.invalidBatchingStrategy,
      m.name,
    );
  }
  if (!isUsableBatchSize(m.batchSize)) {
    return new BbmValidationError(
      `${prefix}: invalid batch_size ${m.batchSize}: it must be at least 1`,
      BbmFailureCode.invalidBatchingStrategy,
      m.name,
    );
  }
  const resolved = await tx.resolveTarget(m.tableName, m.columnName);
  if (!resolved.ok) {
    return resolved.missing === 'table'
      ? new BbmValidationError(
          `${prefix}: table "${m.tableName}" does not exist (table_name must name a table, schema-qualified ` +
            `or in public)`,
          BbmFailureCode.invalidTable,
          m.name,
        )
      : new BbmValidationError(
          `${prefix}: column "${m.columnName}" does not exist in table ${m.tableName}`,
          BbmFailureCode.invalidColumn,
          m.name,
        );
  }
  if (strategy === 'serial' && !resolved.target.integerColumn) {
    return new BbmValidationError(
      `${prefix}: column "${m.columnName}" of table ${m.tableName} is not an integer column, which serial ` +
        `key ranges need`,
      BbmFailureCode.invalidColumn,
      m.name,
    );
  }
  return { target: resolved.target, work, strategy };
}

/** The next serial job: a failed job first, then a new range; undefined when the range is done. */
async function serialJob(tx: BbmTx, m: BbmMigration, target: BbmTarget): Promise<BbmJob | undefined> {
  const failed = await tx.firstFailedJob(m.id);
  if (failed !== undefined) return failed;
  const lastMax = await tx.lastJobMax(m.id);
  const start = nextSerialStart(m, lastMax);
  if (start === undefined) return undefined;
  if (lastMax === undefined) await tx.setTotalTupleCount(m.id, await tx.estimateTupleCount(target, false));
  const end =
    serialEndWithoutLookup(start, m.batchSize, m.maxValue) ??
    (await tx.keyAtOffset(target, start, m.maxValue, m.batchSize - 1)) ??
    m.maxValue;
  return tx.createJob(m.id, start, end);
}

/** The next NULL-strategy job (bounds 0..0), or undefined when no NULL is left (spec §5.3). */
async function nullJob(tx: BbmTx, m: BbmMigration, target: BbmTarget): Promise<BbmJob | undefined> {
  if (!(await tx.hasNullRows(target))) return undefined;
  if (!(await tx.hasJobs(m.id))) await tx.setTotalTupleCount(m.id, await tx.estimateTupleCount(target, true));
  return tx.createJob(m.id, 0n, 0n);
}

/**
 * Finds the next job (spec §5.4): failed migrations first, then running, then active ones.
 * Migrations with nothing left are marked finished and reported through `onFinished`.
 */
export async function findJob(
  tx: BbmTx,
  registry: WorkRegistry,
  opts: { names?: readonly string[]; onFinished: (m: BbmMigration) => void },
): Promise<FindResult> {
  for (;;) {
    const failed = await tx.firstFailedMigration(opts.names);
    if (failed !== undefined) {
      const failedJob =
        batchingStrategyOf(failed.batchingStrategy) === 'serial' && (await tx.firstFailedJob(failed.id));
      if (!failedJob) {
        // Nothing to retry: run it again from where it stands.
        await tx.setRunning(failed.id);
        continue;
      }
      const v = await validateMigration(tx, registry, failed);
      if (v instanceof BbmValidationError) return invalid(tx, failed, v);
      await tx.setRunning(failed.id);
      return { kind: 'job', found: { migration: failed, job: failedJob, target: v.target, work: v.work } };
    }

    const m = await tx.nextRunnableMigration(opts.names);
    if (m === undefined) return { kind: 'none' };
    const v = await validateMigration(tx, registry, m);
    if (v instanceof BbmValidationError) return invalid(tx, m, v);
    // Checked before any change to the row: the index may simply not be built yet (post-deployment).
    if (v.strategy === 'null' && !(await tx.hasNullIndex(v.target))) {
      throw new NoNullIndexError(m.name, m.tableName, m.columnName);
    }
    if (m.status === BbmStatus.active) await tx.setRunning(m.id);
    const job = v.strategy === 'null' ? await nullJob(tx, m, v.target) : await serialJob(tx, m, v.target);
    if (job === undefined) {
      await tx.markFinished(m.id);
      opts.onFinished(m);
      continue;
    }
    return { kind: 'job', found: { migration: m, job, target: v.target, work: v.work } };
  }
}

async function invalid(tx: BbmTx, m: BbmMigration, error: BbmValidationError): Promise<FindResult> {
  await tx.markFailed(m.id, error.failureCode);
  return { kind: 'invalid', error };
}
