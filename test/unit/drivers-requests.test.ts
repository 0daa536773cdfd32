import { describe, expect, it } from 'vitest';
import { PathNotFoundError, StorageDriverError } from '../../drivers/errors.js';
import { isTransientS3Error } from '../../drivers/s3.js';
import { isTransientGcsError } from '../../drivers/gcs.js';
import { RequestRunner } from '../../drivers/requests.js';
import { captureLog } from '../helpers/log-capture.js';

const transientError = Object.assign(new Error('boom'), { code: 'ECONNRESET' });

function runner(overrides: Partial<ConstructorParameters<typeof RequestRunner>[0]> = {}) {
  const log = captureLog();
  const r = new RequestRunner({
    driver: 'test',
    concurrency: 2,
    retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 10_000, attemptTimeoutMs: 200 },
    logger: log.logger,
    isTransient: (err) => (err as { code?: string }).code === 'ECONNRESET',
    translate: (err, path) =>
      (err as { code?: string }).code === 'NOPE' && path ? new PathNotFoundError(path, 'test') : undefined,
    ...overrides,
  });
  return { r, log };
}

describe('RequestRunner', () => {
  it('retries transient failures, counting every attempt and logging every retry', async () => {
    const { r, log } = runner();
    let calls = 0;
    const out = await r.run({ kind: 'get', operation: 'Get', path: '/a' }, async () => {
      if (++calls < 3) throw transientError;
      return 'ok';
    });
    expect(out).toBe('ok');
    expect(r.requestCounts()).toEqual({ list: 0, get: 3, stat: 0, put: 0, delete: 0 });
    expect(log.messages('transient storage error, retrying').map((x) => x['retry'])).toEqual([1, 2]);
  });

  it("adds every attempt to the counts it is given (the driver's)", async () => {
    const counts = { list: 5, get: 0, stat: 0, put: 0, delete: 0 };
    const { r } = runner({ counts });
    let calls = 0;
    await r.run({ kind: 'list', operation: 'List', path: '/a' }, async () => {
      if (++calls < 2) throw transientError;
      return 'ok';
    });
    expect(counts).toEqual({ list: 7, get: 0, stat: 0, put: 0, delete: 0 });
    expect(r.requestCounts()).toEqual(counts);
  });

  it('ends with StorageDriverError after maxAttempts', async () => {
    const { r, log } = runner();
    const err = await r
      .run({ kind: 'list', operation: 'List', path: '/a' }, () => Promise.reject(transientError))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageDriverError);
    expect((err as StorageDriverError).attempts).toBe(4);
    expect((err as StorageDriverError).cause).toBe(transientError);
    expect(r.requestCounts().list).toBe(4);
    expect(log.messages('storage request failed, giving up')).toHaveLength(1);
  });

  it('translates a final error without retrying it', async () => {
    const { r } = runner();
    const err = await r
      .run({ kind: 'get', operation: 'Get', path: '/p' }, () =>
        Promise.reject(Object.assign(new Error('x'), { code: 'NOPE' })),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PathNotFoundError);
    expect(r.requestCounts().get).toBe(1);
  });

  it('times out a hung attempt and retries it', async () => {
    const { r } = runner();
    let calls = 0;
    const out = await r.run({ kind: 'get', operation: 'Get' }, (cancel) => {
      if (++calls === 1)
        return new Promise((_, reject) => cancel.onCancel(() => reject(new Error('cancelled'))));
      return Promise.resolve(calls);
    });
    expect(out).toBe(2);
  });

  it('never runs more than `concurrency` requests at once', async () => {
    const { r } = runner({ concurrency: 3 });
    let now = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        r.run({ kind: 'get', operation: 'Get' }, async () => {
          peak = Math.max(peak, ++now);
          await new Promise((res) => setTimeout(res, 2));
          now--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('spaces requests to honour maxRequestsPerSecond', async () => {
    const { r } = runner({ maxRequestsPerSecond: 100, concurrency: 10 });
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 11 }, () => r.run({ kind: 'stat', operation: 'Head' }, async () => 1)),
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it('rethrows a caller abort at once', async () => {
    const { r } = runner();
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(r.run({ kind: 'get', operation: 'Get', signal: ac.signal }, async () => 1)).rejects.toThrow(
      'stop',
    );
    expect(r.requestCounts().get).toBe(0);
  });
});

describe('transient error classification', () => {
  it('S3: 5xx, SlowDown, throttling and connection resets', () => {
    expect(isTransientS3Error({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isTransientS3Error({ name: 'InternalError', $metadata: { httpStatusCode: 500 } })).toBe(true);
    expect(isTransientS3Error({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } })).toBe(
      true,
    );
    expect(isTransientS3Error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientS3Error({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } })).toBe(false);
    expect(isTransientS3Error({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } })).toBe(false);
  });

  it('GCS: 429 and 5xx', () => {
    expect(isTransientGcsError({ code: 429 })).toBe(true);
    expect(isTransientGcsError({ code: 503 })).toBe(true);
    expect(isTransientGcsError({ code: 404 })).toBe(false);
    expect(isTransientGcsError({ code: 403 })).toBe(false);
  });
});
