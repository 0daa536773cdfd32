/**
 * Staging tables are derived from one spec each (issue 16 §3): DDL, COPY column list and COPY values
 * agree by position. The expected column lists are the merges' (src/db/import-sql.ts reads these
 * names), written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { STAGING, copySql, copyValues, stagingDdl } from '../../src/db/import-staging.js';
import type { ManifestRow } from '../../src/db/import-rows.js';
import { parseDigest } from '../../src/registry/digest.js';

const digest = (c: string) => {
  const r = parseDigest(`sha256:${c.repeat(64)}`);
  if (!r.ok) throw new Error('bad test digest');
  return r.digest;
};

describe('staging table specs', () => {
  it('derive the manifests COPY column list, DDL and values in one order', () => {
    const t = STAGING.manifests;
    expect(copySql(t)).toBe(
      'COPY regdb_stg_manifests (seq, path, digest, schema_version, media_type, payload, total_size, ' +
        'config_media_type, config_digest, config_payload, non_conformant, subject_digest, artifact_media_type) FROM STDIN',
    );
    expect(stagingDdl(t)).toContain('(seq bigint, path text, digest bytea, schema_version smallint,');
    const m: ManifestRow = {
      digest: digest('a'),
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      payload: Buffer.from('{}'),
      totalSize: 10n,
      configMediaType: null,
      configDigest: null,
      configPayload: null,
      nonConformant: false,
      subjectDigest: digest('b'),
      artifactMediaType: null,
    };
    const v = copyValues(t)(['group/app', m], 7);
    expect(v).toHaveLength(13);
    expect(v.slice(0, 2)).toEqual([7, 'group/app']);
    expect(v[3]).toBe(2);
    expect(v[8]).toBeNull();
    // GitLab's bytea digest: one algorithm byte (1: sha256), then the 32 digest bytes.
    expect((v[11] as Buffer).toString('hex')).toBe('01' + 'b'.repeat(64));
  });

  it('give every table as many values as columns, seq first', () => {
    for (const t of Object.values(STAGING)) {
      const cols = /\(([^)]*)\)/.exec(copySql(t))![1]!.split(', ');
      expect(cols[0]).toBe('seq');
      expect(cols.slice(1)).toEqual(t.columns.map((c) => c.name));
      expect(stagingDdl(t)).toContain(t.columns.map((c) => `${c.name} ${c.type}`).join(', '));
    }
    expect(copySql(STAGING.repositories)).toBe(
      'COPY regdb_stg_repositories (seq, namespace, path, name, last_published_at, sync_tags) FROM STDIN',
    );
    expect(copySql(STAGING.tags)).toBe(
      'COPY regdb_stg_tags (seq, path, name, manifest_digest, pushed_at) FROM STDIN',
    );
  });
});
