/**
 * Issue 14 §3-5 on the real registry tree: imports of some repositories (by name, by prefix), rerun,
 * then a full import, end exactly like a full import alone; untagged manifests appear only with
 * `--dangling-manifests`; `--tag-timestamps storage` stamps tags with their link's mtime. Expected
 * values come from the tree itself (directory listings, manifest JSON parsed here, utimes set here).
 */
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../helpers/db.js';
import { dumpTables, resetImportTables, type Dump } from '../helpers/golden.js';
import { copyTree, importTree, type TreeCopy } from '../helpers/import-run.js';
import { testWork } from '../helpers/work.js';
import { runImportProcess, writeImportConfig } from './import-kill-support.js';

const work = testWork('cutover', { timeout: 600_000 });
let db: TestDatabase;
beforeAll(async () => {
  db = await work.database();
}, 600_000);

async function tree(): Promise<TreeCopy> {
  await resetImportTables(db.pool);
  const t = await copyTree('real');
  work.defer(() => t.remove());
  return t;
}

const REPOS = 'docker/registry/v2/repositories';
const noStats = (d: Dump): Dump => {
  const { import_statistics: _s, ...rest } = d;
  return rest;
};
const paths = (d: Dump) => (d.repositories as { path: string }[]).map((r) => r.path);

describe('cutover imports', { timeout: 300_000 }, () => {
  let full: Dump;
  beforeAll(async () => {
    const t = await tree();
    await importTree(db.pool, t);
    full = await dumpTables(db.pool);
  }, 600_000);

  it('single repository and prefix imports, rerun, then a full import equal a full import', async () => {
    const t = await tree();
    const filter = (names: string[], prefixes: string[]) => ({ repositories: { names, prefixes } });
    await importTree(db.pool, t, { steps: [1, 2], ...filter(['group/app'], []) });
    let d = await dumpTables(db.pool);
    expect(paths(d)).toEqual(['group/app']);
    expect((d.tags as { repository: string }[]).map((x) => x.repository)).toEqual([
      'group/app',
      'group/app',
      'group/app',
    ]);
    // The registry is not on the database yet: no lockfile switch.
    expect(existsSync(join(t.root, 'docker/registry/lockfiles/database-in-use'))).toBe(false);

    await importTree(db.pool, t, { steps: [1, 2], ...filter([], ['other/']) });
    d = await dumpTables(db.pool);
    expect(paths(d)).toEqual(['group/app', 'other/artifacts', 'other/tool']);
    // Rerunnable: the same prefix again changes nothing.
    await importTree(db.pool, t, { steps: [1, 2], ...filter([], ['other/']) });
    expect(noStats(await dumpTables(db.pool))).toEqual(noStats(d));

    await importTree(db.pool, t);
    expect(noStats(await dumpTables(db.pool))).toEqual(noStats(full));
    expect(existsSync(join(t.root, 'docker/registry/lockfiles/database-in-use'))).toBe(true);
  });

  it('dangling manifests appear only with the flag, with their layers and configuration', async () => {
    // Untag group/bigconfig: its only manifest becomes dangling.
    const t = await tree();
    const repo = join(t.root, REPOS, 'group/bigconfig');
    const digest = readFileSync(join(repo, '_manifests/tags/latest/current/link'), 'utf8');
    await rm(join(repo, '_manifests/tags'), { recursive: true });
    const payload = JSON.parse(
      readFileSync(
        join(t.root, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data'),
        'utf8',
      ),
    ) as { layers: { digest: string }[]; config: { digest: string } };

    const has = (d: Dump) =>
      (d.manifests as { repository: string; digest: string }[]).some(
        (m) => m.repository === 'group/bigconfig' && m.digest === digest,
      );
    await importTree(db.pool, t, { referrers: false });
    expect(has(await dumpTables(db.pool))).toBe(false);

    await resetImportTables(db.pool);
    await importTree(db.pool, t, { referrers: false, danglingManifests: true });
    const d = await dumpTables(db.pool);
    expect(has(d)).toBe(true);
    const layers = (d.layers as { repository: string; manifest: string; digest: string }[])
      .filter((l) => l.repository === 'group/bigconfig' && l.manifest === digest)
      .map((l) => l.digest);
    expect(layers.sort()).toEqual(payload.layers.map((l) => l.digest).sort());
    const m = (d.manifests as { digest: string; configuration_blob_digest: string }[]).find(
      (x) => x.digest === digest,
    );
    expect(m?.configuration_blob_digest).toBe(payload.config.digest);
    // group/app's untagged referrer (dropped with --no-referrers) is back as a dangling manifest.
    const appRevisions = join(t.root, REPOS, 'group/app/_manifests/revisions/sha256');
    const appManifests = (d.manifests as { repository: string; digest: string }[])
      .filter((x) => x.repository === 'group/app')
      .map((x) => x.digest);
    for (const hex of readdirSync(appRevisions)) expect(appManifests).toContain(`sha256:${hex}`);
  });

  it('--tag-timestamps storage takes created_at/updated_at from the current link; default is the import time', async () => {
    const t = await tree();
    const pushed = new Date('2021-03-04T05:06:07Z');
    utimesSync(join(t.root, REPOS, 'group/app/_manifests/tags/stable/current/link'), pushed, pushed);
    const before = new Date();
    await importTree(db.pool, t, { tagTimestamps: 'storage' });
    const rows = async () =>
      (
        await db.pool.query<{ name: string; created_at: Date; updated_at: Date | null }>(
          `SELECT t.name, t.created_at, t.updated_at FROM tags t JOIN repositories r
             ON r.top_level_namespace_id = t.top_level_namespace_id AND r.id = t.repository_id
           WHERE r.path = 'group/app' ORDER BY t.name`,
        )
      ).rows;
    const stable = (await rows()).find((r) => r.name === 'stable')!;
    expect(stable.created_at.toISOString()).toBe(pushed.toISOString());
    expect(stable.updated_at?.toISOString()).toBe(pushed.toISOString());
    for (const r of await rows()) {
      const mtime = statSync(join(t.root, REPOS, 'group/app/_manifests/tags', r.name, 'current/link')).mtime;
      expect(r.created_at.getTime()).toBe(mtime.getTime());
    }

    await resetImportTables(db.pool);
    await importTree(db.pool, t);
    for (const r of await rows()) {
      expect(r.created_at.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
      expect(r.updated_at).toBeNull();
    }
  });
});

describe('cutover flags through the CLI', { timeout: 300_000 }, () => {
  it('unknown repository, unknown prefix and conflicting flags are usage errors (exit 2)', async () => {
    const t = await tree();
    const config = writeImportConfig(work.path, db, t.root);
    const unknown = await runImportProcess(config, ['--repository', 'group/nope'], work.path);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown repository "group/nope"');
    const prefix = await runImportProcess(config, ['--repository-prefix', 'nope/'], work.path);
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toContain('unknown repository prefix "nope/"');
    const conflict = await runImportProcess(
      config,
      ['--repository', 'group/app', '--common-blobs'],
      work.path,
    );
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('cannot be used with --common-blobs');
    const bad = await runImportProcess(config, ['--repository', 'Group/App!'], work.path);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid --repository "Group/App!"');
    const conns = await runImportProcess(config, ['--max-db-connections', '1'], work.path);
    expect(conns.code).toBe(2);
    expect(conns.stderr).toContain('--max-db-connections must be at least 2');
    // Nothing was written by any of them.
    expect((await db.pool.query('SELECT count(*)::int AS n FROM repositories')).rows[0].n).toBe(0);
  });

  it('--repository through the CLI imports that repository only, with the throttle and a connection cap', async () => {
    const t = await tree();
    const config = writeImportConfig(work.path, db, t.root);
    const run = await runImportProcess(
      config,
      ['--repository', 'group/multi', '--max-rows-per-second', '1000', '--max-db-connections', '2'],
      work.path,
    );
    expect(run.stderr).not.toContain('regdb:');
    expect(run.code).toBe(0);
    const r = await db.pool.query<{ path: string }>('SELECT path FROM repositories ORDER BY path');
    expect(r.rows.map((x) => x.path)).toEqual(['group/multi']);
  });
});
