/**
 * Importing the real registry tree (fixtures/registries/real): golden dumps for a full import and
 * each step alone; steps one, two, three run separately end like a full import; a dry run changes
 * nothing; step two converges when re-run; an interrupted run resumes to the same rows.
 */
import { rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../../drivers/driver.js';
import { StorageDriverError } from '../../drivers/errors.js';
import { runImport } from '../../src/importer/run.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import {
  databaseFingerprint,
  dumpTables,
  expectGolden,
  resetImportTables,
  type Dump,
} from '../helpers/golden.js';
import { copyTree, importOptions, importTree, type TreeCopy } from '../helpers/import-run.js';

// Creating a database from the migrated template is slow on a busy machine: one serves every test.
let shared: TestDatabase;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  shared = await freshDatabase();
}, 600_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await shared?.drop();
}, 600_000);

async function setup(): Promise<{ db: TestDatabase; tree: TreeCopy }> {
  await resetImportTables(shared.pool);
  const tree = await copyTree('real');
  cleanups.push(() => tree.remove());
  return { db: shared, tree };
}

function withoutStatistics(d: Dump): Dump {
  const { import_statistics: _drop, ...rest } = d;
  return rest;
}

let full: Dump;

describe('real tree', { timeout: 300_000 }, () => {
  beforeAll(async () => {
    const { db, tree } = await setup();
    const report = await importTree(db.pool, tree);
    expect([...report.skips.keys()]).toEqual([]);
    full = await dumpTables(db.pool);
    expect(existsSync(join(tree.root, 'docker/registry/lockfiles/database-in-use'))).toBe(true);
    expect(existsSync(join(tree.root, 'docker/registry/lockfiles/filesystem-in-use'))).toBe(false);
  }, 600_000);

  it('full import matches the golden dump', async () => {
    await expectGolden('real-full', full);
    expect(full.tags!.length).toBeGreaterThan(0);
    // The referrer pushed by digest only survives, pointing at its subject (issue 5 §2).
    const referrers = (full.manifests as { subject: string | null }[]).filter((m) => m.subject !== null);
    expect(referrers.length).toBeGreaterThan(0);
    expect(full.import_statistics).toHaveLength(1);
  });

  for (const step of [1, 2, 3] as const) {
    it(`step ${step} alone matches its golden dump`, async () => {
      const { db, tree } = await setup();
      await importTree(db.pool, tree, { steps: [step] });
      await expectGolden(`real-step${step}`, await dumpTables(db.pool));
    });
  }

  it('steps one, two and three run one after the other give the full import', async () => {
    const { db, tree } = await setup();
    for (const step of [1, 2, 3] as const) await importTree(db.pool, tree, { steps: [step] });
    const dump = await dumpTables(db.pool);
    expect(withoutStatistics(dump)).toEqual(withoutStatistics(full));
    expect(dump.import_statistics).toHaveLength(3);
  });

  it("step two on a filesystem lists a repository's _layers only when it has manifests to import", async () => {
    const { db, tree } = await setup();
    const walked: string[] = [];
    const recording = new Proxy(tree.driver, {
      get(target, prop, receiver) {
        if (prop === 'walk') {
          return (...args: Parameters<StorageDriver['walk']>) => {
            walked.push(args[0]);
            return target.walk(...args);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const R = '/docker/registry/v2/repositories';
    const repositories = (full.repositories as { path: string }[]).map((r) => r.path);
    const tagged = new Set((full.tags as { repository: string }[]).map((t) => t.repository));

    // Alone, step two imports every tagged manifest: each repository with tags lists its `_layers`.
    await runImport({ pool: db.pool, driver: recording }, importOptions({ steps: [2] }));
    expect(walked[0]).toBe(R);
    const listed = walked.slice(1);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.every((p) => p.endsWith('/_layers'))).toBe(true);
    const names = listed.map((p) => p.slice(R.length + 1, -'/_layers'.length));
    expect(names.every((n) => repositories.includes(n))).toBe(true);
    for (const n of tagged) expect(names).toContain(n);
    await expectGolden('real-step2', await dumpTables(db.pool));

    // Again, with every manifest in the database: only the root is walked.
    walked.length = 0;
    await runImport({ pool: db.pool, driver: recording }, importOptions({ steps: [2] }));
    expect(walked).toEqual([R]);
  });

  it('a dry run leaves every row count and sequence value as it was, and reports the same rows', async () => {
    const { db, tree } = await setup();
    const lockfiles = join(tree.root, 'docker/registry/lockfiles');
    await rm(lockfiles, { recursive: true, force: true });
    const before = await databaseFingerprint(db.pool);
    const dry = await importTree(db.pool, tree, { dryRun: true });
    expect(await databaseFingerprint(db.pool)).toEqual(before);
    expect(existsSync(lockfiles)).toBe(false);
    const real = await importTree(db.pool, tree);
    expect(dry.inserted).toEqual(real.inserted);
  });

  it('re-running step two converges on storage: unchanged rows stay, a deleted tag goes', async () => {
    const { db, tree } = await setup();
    await importTree(db.pool, tree);
    const first = await dumpTables(db.pool);
    await importTree(db.pool, tree, { steps: [2] });
    expect(withoutStatistics(await dumpTables(db.pool))).toEqual(withoutStatistics(first));

    const tag = (first.tags as { repository: string; name: string }[])[0]!;
    await rm(
      join(tree.root, 'docker/registry/v2/repositories', tag.repository, '_manifests/tags', tag.name),
      {
        recursive: true,
      },
    );
    const report = await importTree(db.pool, tree, { steps: [2] });
    expect(report.inserted.tags_deleted).toBe(1);
    const after = await dumpTables(db.pool, ['tags', 'gc_manifest_review_queue']);
    expect(after.tags).toHaveLength(first.tags!.length - 1);
    expect(
      (after.gc_manifest_review_queue as { event: string }[]).some((q) => q.event === 'tag_delete'),
    ).toBe(true);
  });

  it("re-running step two moves a tag whose link changed, through GitLab's tag_switch trigger", async () => {
    const { db, tree } = await setup();
    await importTree(db.pool, tree);
    const first = (await dumpTables(db.pool, ['tags'])).tags as {
      repository: string;
      name: string;
      manifest: string;
    }[];
    // A tag moved to another manifest of its repository (e.g. a child of the list it pointed at).
    const manifests = (await dumpTables(db.pool, ['manifests'])).manifests as {
      repository: string;
      digest: string;
    }[];
    const [a, target] = first
      .flatMap((t) =>
        manifests
          .filter((m) => m.repository === t.repository && m.digest !== t.manifest)
          .map((m) => [t, m] as const),
      )
      .at(0)!;
    await writeFile(
      join(
        tree.root,
        'docker/registry/v2/repositories',
        a.repository,
        '_manifests/tags',
        a.name,
        'current/link',
      ),
      target.digest,
    );
    await importTree(db.pool, tree, { steps: [2] });
    const after = await dumpTables(db.pool, ['tags', 'gc_manifest_review_queue']);
    const moved = (after.tags as typeof first).find(
      (t) => t.repository === a!.repository && t.name === a!.name,
    )!;
    expect(moved.manifest).toBe(target.digest);
    expect(
      (after.gc_manifest_review_queue as { event: string }[]).filter((q) => q.event === 'tag_switch'),
    ).toHaveLength(1);
  });

  it('a run stopped by a storage failure resumes from its checkpoints to the same rows', async () => {
    const { db, tree } = await setup();
    let reads = 0;
    const failing = new Proxy(tree.driver, {
      get(target, prop, receiver) {
        if (prop === 'getContent') {
          return async (...args: Parameters<StorageDriver['getContent']>) => {
            if (++reads === 30)
              throw new StorageDriverError('injected failure', 'filesystem', {
                operation: 'get',
                attempts: 1,
                cause: null,
              });
            return target.getContent(...args);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const options = importOptions({ concurrency: 1, batchRows: 1 });
    await expect(runImport({ pool: db.pool, driver: failing }, options)).rejects.toThrow(/injected failure/);
    const checkpoints = await db.pool.query('SELECT count(*)::int AS n FROM regdb_import.checkpoints');
    expect(checkpoints.rows[0].n).toBeGreaterThan(0);
    const resumed = await runImport({ pool: db.pool, driver: tree.driver }, options);
    expect(resumed.steps.some((s) => s.checkpointed > 0 || s.resumed)).toBe(true);
    const dump = await dumpTables(db.pool);
    expect(withoutStatistics(dump)).toEqual(withoutStatistics(full));
    // One statistics row per run; the resumed run counts like an uninterrupted one.
    expect(dump.import_statistics).toHaveLength(2);
    expect(dump.import_statistics![1]).toEqual(full.import_statistics![0]);
    const left = await db.pool.query('SELECT count(*)::int AS n FROM regdb_import.checkpoints');
    expect(left.rows[0].n).toBe(0);
  });

  it('a resumed run walks on from past the last checkpointed repository, not from the start', async () => {
    const { db, tree } = await setup();
    let reads = 0;
    const walks: { prefix: string; startAfter?: string; first?: string }[] = [];
    const instrumented = (failAt: number | null): StorageDriver =>
      new Proxy(tree.driver, {
        get(target, prop, receiver) {
          if (prop === 'getContent') {
            return async (...args: Parameters<StorageDriver['getContent']>) => {
              if (++reads === failAt)
                throw new StorageDriverError('injected failure', 'filesystem', {
                  operation: 'get',
                  attempts: 1,
                  cause: null,
                });
              return target.getContent(...args);
            };
          }
          if (prop === 'walk') {
            return async function* (...args: Parameters<StorageDriver['walk']>) {
              const record: (typeof walks)[number] = { prefix: args[0], startAfter: args[1]?.startAfter };
              walks.push(record);
              for await (const f of target.walk(...args)) {
                record.first ??= f.path;
                yield f;
              }
            };
          }
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const options = importOptions({ concurrency: 1, batchRows: 1, steps: [1] });
    await expect(runImport({ pool: db.pool, driver: instrumented(15) }, options)).rejects.toThrow(
      /injected failure/,
    );
    const last = await db.pool.query<{ key: string; n: number }>(
      `SELECT key, (SELECT count(*)::int FROM regdb_import.checkpoints) AS n
       FROM regdb_import.checkpoints ORDER BY position DESC LIMIT 1`,
    );
    const { key, n } = last.rows[0]!;
    expect(n).toBeGreaterThan(0);
    walks.length = 0;
    const resumed = await runImport({ pool: db.pool, driver: instrumented(null) }, options);
    expect(resumed.steps[0]!.checkpointed).toBe(n);
    const walk = walks.find((w) => w.prefix.endsWith('/repositories'))!;
    expect(walk.startAfter).toBe(`/docker/registry/v2/repositories/${key}/_manifests0`);
    // The walk starts with a repository after the last one done.
    expect(walk.first! > walk.startAfter!).toBe(true);
    expect(walk.first).not.toContain(`/repositories/${key}/_`);
    // The same rows as step one alone (the failed run left its own statistics row).
    const dump = await dumpTables(db.pool);
    expect(dump.import_statistics).toHaveLength(2);
    await expectGolden('real-step1', withoutStatistics(dump));
  });
});
