import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  BbmFailureCode,
  BbmStatus,
  batchingStrategyOf,
  failureCodeName,
  statusName,
} from '../../src/bbm/model.js';
import {
  checkMaxJobRetry,
  nextSerialStart,
  parseMaxJobRetry,
  progressEstimate,
  serialEndWithoutLookup,
} from '../../src/bbm/plan.js';
import { MaxJobAttemptsError, NoNullIndexError } from '../../src/bbm/errors.js';

const INT64_MAX = 9223372036854775807n;

describe('status values and failure codes (spec §5.1)', () => {
  it('names every status and maps anything else to unknown', () => {
    expect([0, 1, 2, 3, 4].map(statusName)).toEqual(['paused', 'active', 'finished', 'failed', 'running']);
    expect(statusName(5)).toBe('unknown');
    expect(statusName(-1)).toBe('unknown');
    expect(BbmStatus).toEqual({ paused: 0, active: 1, finished: 2, failed: 3, running: 4 });
  });

  it('names the failure codes', () => {
    expect([0, 1, 2, 3, 4, 5].map(failureCodeName)).toEqual([
      'unknown',
      'invalid_bbm_table',
      'invalid_bbm_column',
      'invalid_job_signature',
      'max_job_retry',
      'invalid_batching_strategy',
    ]);
    expect(BbmFailureCode.maxJobRetry).toBe(4);
  });

  it('knows the two batching strategies', () => {
    expect(batchingStrategyOf(null)).toBe('serial');
    expect(batchingStrategyOf('NullKeySetBatchingStrategy')).toBe('null');
    expect(batchingStrategyOf('nullkeysetbatchingstrategy')).toBeUndefined();
    expect(batchingStrategyOf('')).toBeUndefined();
  });
});

describe('--max-job-retry (spec §4.4)', () => {
  it('accepts 1 to 10 inclusive', () => {
    expect(parseMaxJobRetry('1')).toBe(1);
    expect(parseMaxJobRetry('10')).toBe(10);
    expect(checkMaxJobRetry(2)).toBe(2);
  });

  it('rejects values outside the range with a message that states the range', () => {
    for (const bad of ['0', '11', '-1', '2.5', 'two', '']) {
      expect(() => parseMaxJobRetry(bad)).toThrow(UsageError);
      expect(() => parseMaxJobRetry(bad)).toThrow(/max-job-retry must be .*between 1 and 10/);
    }
    expect(() => checkMaxJobRetry(0)).toThrow('max-job-retry must be between 1 and 10 (inclusive), got 0');
  });
});

describe('serial job planning (spec §5.3)', () => {
  const m = { minValue: 1n, maxValue: INT64_MAX };

  it('starts the first job at min_value and later ones after the last job', () => {
    expect(nextSerialStart(m, undefined)).toBe(1n);
    expect(nextSerialStart(m, 10000n)).toBe(10001n);
  });

  it('stops when the last job ends at max_value, without computing max_value + 1', () => {
    expect(nextSerialStart(m, INT64_MAX)).toBeUndefined();
    expect(nextSerialStart({ minValue: 1n, maxValue: 100n }, 100n)).toBeUndefined();
    expect(nextSerialStart({ minValue: 1n, maxValue: 100n }, 99n)).toBe(100n);
  });

  it('has nothing to do when min_value is above max_value', () => {
    expect(nextSerialStart({ minValue: 5n, maxValue: 4n }, undefined)).toBeUndefined();
  });

  it('ends at max_value when start + batch_size reaches it, else needs a lookup', () => {
    expect(serialEndWithoutLookup(1n, 10000, 10001n)).toBe(10001n);
    expect(serialEndWithoutLookup(1n, 10000, 10002n)).toBeUndefined();
    expect(serialEndWithoutLookup(INT64_MAX - 5n, 10000, INT64_MAX)).toBe(INT64_MAX);
    expect(serialEndWithoutLookup(1n, 10000, INT64_MAX)).toBeUndefined();
  });
});

describe('progress estimate', () => {
  const base = { status: BbmStatus.running, batchSize: 10000, totalTupleCount: 50000n };

  it('is 100% when finished and 0% before the first job', () => {
    expect(progressEstimate({ ...base, status: BbmStatus.finished }, 0n)).toBe('100%');
    expect(progressEstimate({ ...base, totalTupleCount: null }, 0n)).toBe('0%');
  });

  it('counts finished jobs times batch size against the estimate, capped at 99%', () => {
    expect(progressEstimate(base, 2n)).toBe('40%');
    expect(progressEstimate(base, 5n)).toBe('99%');
    expect(progressEstimate(base, 9n)).toBe('99%');
  });

  it('shows - without an estimate', () => {
    expect(progressEstimate({ ...base, totalTupleCount: null }, 3n)).toBe('-');
    expect(progressEstimate({ ...base, totalTupleCount: 0n }, 3n)).toBe('-');
  });
});

describe('error messages', () => {
  it('quotes the spec messages and says what to do next', () => {
    const e = new NoNullIndexError('backfill_blobs_p_0_id_column', 'partitions.blobs_p_0', 'id');
    expect(e.message).toContain('NULL index is required for NULL batching strategy, cannot continue');
    expect(e.message).toContain('partitions.blobs_p_0');
    const m = new MaxJobAttemptsError('copy', 7n, 2, { cause: new Error('boom'), range: 'id 1..10' });
    expect(m.message).toContain('maximum job attempt reached');
    expect(m.message).toContain('job 7 (id 1..10) failed 2 time(s)');
    expect(m.message).toContain('last error: boom');
  });
});
