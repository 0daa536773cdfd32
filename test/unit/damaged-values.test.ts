/**
 * Issue 17 §2, the pure side of damaged trees: values PostgreSQL cannot hold are refused where rows
 * are built (NUL in a media type, sizes past bigint), and the repository grouper keeps what a
 * damaged tags folder still says (empty tag folders are tags without a link; a file where the tags
 * folder belongs is a problem with its path).
 */
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../drivers/driver.js';
import { storableMediaType } from '../../src/importer/manifest-rows.js';
import { unreadableSkip } from '../../src/importer/skips.js';
import { parseManifest } from '../../src/registry/manifest.js';
import {
  groupRepositories,
  repositoryOfPath,
  type RepositoryEntry,
} from '../../src/registry/repositories.js';

const R = '/docker/registry/v2/repositories';
const HEX = 'a'.repeat(64);

const image = (patch: Record<string, unknown>): Buffer =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 10, digest: `sha256:${HEX}` },
      layers: [],
      ...patch,
    }),
  );

async function group(paths: string[]): Promise<RepositoryEntry[]> {
  const files: FileInfo[] = paths.map((path) => ({ path, size: 71 }));
  const out: RepositoryEntry[] = [];
  for await (const e of groupRepositories(
    (async function* () {
      yield* files;
    })(),
  ))
    out.push(e);
  return out;
}

describe('values the database cannot hold', () => {
  it('a media type with a NUL character cannot be stored (text cannot hold NUL)', () => {
    expect(storableMediaType('application/vnd.oci.image.layer.v1.tar')).toBe(true);
    expect(storableMediaType('application/x\u0000y')).toBe(false);
    expect(storableMediaType('\u0000')).toBe(false);
  });

  it('layer sizes that sum past 2^63-1 make the manifest invalid, naming the 64-bit range', () => {
    const layer = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      size: Number.MAX_SAFE_INTEGER,
      digest: `sha256:${HEX}`,
    };
    // 1023 * (2^53 - 1) + config + payload < 2^63 - 1 < 1025 * (2^53 - 1)
    const fits = parseManifest(image({ layers: Array.from({ length: 1023 }, () => layer) }));
    expect(fits.ok).toBe(true);
    const past = parseManifest(image({ layers: Array.from({ length: 1025 }, () => layer) }));
    expect(past).toMatchObject({ ok: false, reason: 'manifest-invalid' });
    expect(past.ok ? '' : past.detail).toMatch(/64-bit range of total_size/);
  });

  it('negative sizes summing below -2^63 are refused too', () => {
    const layer = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      size: -Number.MAX_SAFE_INTEGER,
      digest: `sha256:${HEX}`,
    };
    expect(parseManifest(image({ layers: Array.from({ length: 1100 }, () => layer) }))).toMatchObject({
      ok: false,
      reason: 'manifest-invalid',
    });
  });
});

describe('damaged tags folders', () => {
  it('an empty tag folder (an empty-directory marker) is a tag without a current link', async () => {
    const [repo] = await group([
      `${R}/a/_manifests/revisions/sha256/${HEX}/link`,
      `${R}/a/_manifests/tags/empty/`,
      `${R}/a/_manifests/tags/half/current/`,
      `${R}/a/_manifests/tags/ok/current/link`,
    ]);
    expect(repo?.kind).toBe('repository');
    if (repo?.kind !== 'repository') return;
    expect(repo.tags).toEqual([
      { name: 'empty', currentLinkPath: undefined },
      { name: 'half', currentLinkPath: undefined },
      { name: 'ok', currentLinkPath: `${R}/a/_manifests/tags/ok/current/link` },
    ]);
  });

  it('an empty tags folder makes no tag', async () => {
    const [repo] = await group([`${R}/a/_manifests/tags/`]);
    expect(repo?.kind === 'repository' && repo.tags).toEqual([]);
  });

  it('a file where the _manifests folder belongs is a problem naming its path', async () => {
    const [repo] = await group([`${R}/a/_manifests`]);
    expect(repo?.kind === 'repository' && repo.problems).toEqual([
      expect.objectContaining({ path: `${R}/a/_manifests`, reason: 'unexpected-path' }),
    ]);
  });

  it('a file where the tags folder belongs is a problem naming its path', async () => {
    const [repo] = await group([`${R}/a/_manifests/revisions/sha256/${HEX}/link`, `${R}/a/_manifests/tags`]);
    expect(repo?.kind === 'repository' && repo.problems).toEqual([
      expect.objectContaining({ path: `${R}/a/_manifests/tags`, reason: 'unexpected-path' }),
    ]);
  });
});

describe('unreadable entries', () => {
  it('are attributed to the repository their path lies in', () => {
    expect(repositoryOfPath(`${R}/g/app/_manifests/tags/x`)).toBe('g/app');
    expect(repositoryOfPath(`${R}/g/app`)).toBe('g/app');
    expect(repositoryOfPath('/docker/registry/v2/blobs/sha256/aa/x/data')).toBeUndefined();
    expect(unreadableSkip(`${R}/g/app/_layers`, 'symlink leaves the root')).toEqual({
      reason: 'storage-entry-unreadable',
      path: `${R}/g/app/_layers`,
      repository: 'g/app',
      message: 'symlink leaves the root, skipped',
      gitlabFatal: true,
    });
  });
});
