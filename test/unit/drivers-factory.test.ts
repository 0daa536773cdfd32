import { describe, expect, it } from 'vitest';
import { createDriver } from '../../drivers/factory.js';
import { ParameterError } from '../../drivers/parameters.js';
import type { RequestRunner } from '../../drivers/requests.js';

describe('createDriver', () => {
  it('names S3 drivers as GitLab records them (spec §2.14)', async () => {
    for (const [key, name] of [
      ['s3', 's3aws'],
      ['s3aws', 's3aws'],
      ['s3_v2', 's3_v2'],
    ] as const) {
      const d = await createDriver({ driver: 's3', key, parameters: { bucket: 'b', region: 'eu-west-1' } });
      expect(d.name).toBe(name);
      await d.close();
    }
    const g = await createDriver({
      driver: 'gcs',
      key: 'gcs',
      parameters: { bucket: 'b', endpoint: 'http://127.0.0.1:1' },
    });
    expect(g.name).toBe('gcs');
    await g.close();
  });

  it('refuses incomplete or contradictory parameters with a message naming the key', async () => {
    await expect(createDriver({ driver: 's3', key: 's3', parameters: { region: 'x' } })).rejects.toThrow(
      new ParameterError('storage.s3.bucket', 'required s3 storage parameter is missing'),
    );
    await expect(createDriver({ driver: 's3', key: 's3aws', parameters: { bucket: 'b' } })).rejects.toThrow(
      'storage.s3aws.region: required s3aws storage parameter is missing',
    );
    await expect(
      createDriver({
        driver: 's3',
        key: 's3',
        parameters: { bucket: 'b', region: 'x', secure: 'sometimes' },
      }),
    ).rejects.toThrow('storage.s3.secure: must be true or false');
    await expect(
      createDriver({ driver: 's3', key: 's3', parameters: { bucket: 'b', region: 'x', maxretries: -1 } }),
    ).rejects.toThrow('storage.s3.maxretries: must be a whole number >= 0');
    await expect(
      createDriver({
        driver: 'gcs',
        key: 'gcs',
        parameters: { bucket: 'b', keyfile: '/k.json', credentials: { type: 'x' } },
      }),
    ).rejects.toThrow(ParameterError);
  });

  it('honours a GCS maxconcurrency at or above the floor and refuses one below it', async () => {
    // The runner's limit is what the requests meet; the driver keeps it to itself.
    const limitOf = (d: object): number => (d as { runner: RequestRunner }).runner.concurrency;
    for (const [maxconcurrency, want] of [
      [4, 4],
      [7, 7],
      [1000, 1000],
    ] as const) {
      const d = await createDriver({
        driver: 'gcs',
        key: 'gcs',
        parameters: { bucket: 'b', endpoint: 'http://127.0.0.1:1', maxconcurrency },
      });
      expect(limitOf(d)).toBe(want);
      await d.close();
    }
    await expect(
      createDriver({
        driver: 'gcs',
        key: 'gcs',
        parameters: { bucket: 'b', endpoint: 'http://127.0.0.1:1', maxconcurrency: 3 },
      }),
    ).rejects.toThrow('storage.gcs.maxconcurrency: must be a whole number >= 4');
  });

  it('accepts env-style strings for booleans and numbers, and a region-less custom endpoint', async () => {
    const d = await createDriver({
      driver: 's3',
      key: 's3',
      parameters: {
        bucket: 'b',
        regionendpoint: 'minio:9000',
        secure: 'false',
        pathstyle: 'true',
        maxretries: '2',
      },
    });
    expect(d.name).toBe('s3aws');
    await d.close();
  });
});
