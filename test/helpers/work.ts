/**
 * What a test file (or describe block) makes for its tests and removes after them: a temporary work
 * folder, fresh databases (db.ts), and whatever else it registers (trees, servers, clients). One
 * place for the "mkdtemp in beforeAll, cleanups in reverse, drop, rm in afterAll" the files repeated.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { freshDatabase, type TestDatabase } from './db.js';

export interface TestWork {
  /** The folder, `regdb-<label>-…` under the temporary directory; there once beforeAll ran. */
  readonly path: string;
  /** A new folder inside: `name`, or the next of 1, 2, 3… (one config file per database, say). */
  sub(name?: string): string;
  /** Runs after the tests, before the folder goes; the last registered runs first. */
  defer(cleanup: () => Promise<void> | void): void;
  /** A fresh, migrated database, dropped after the tests. */
  database(): Promise<TestDatabase>;
}

export interface TestWorkOptions {
  /**
   * Folder mode. 0o755 where an embedded PostgreSQL runs in it: as root the server runs as
   * `postgres`, which must enter the folder (mkdtemp makes 0700).
   */
  readonly mode?: number;
  /** Of the afterAll hook, for cleanups that take long (vitest's hookTimeout otherwise). */
  readonly timeout?: number;
}

/**
 * Registers a beforeAll that makes the folder and an afterAll that runs the cleanups and removes it,
 * in the file or describe block it is called in. Call it before the block's own hooks: vitest runs
 * after-hooks last registered first, so the folder outlives the block's other after-hooks.
 */
export function testWork(label: string, opts: TestWorkOptions = {}): TestWork {
  let path: string | undefined;
  let subs = 0;
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(() => {
    path = mkdtempSync(join(tmpdir(), `regdb-${label}-`));
    if (opts.mode !== undefined) chmodSync(path, opts.mode);
  });
  afterAll(async () => {
    try {
      for (const c of cleanups.splice(0).reverse()) await c();
    } finally {
      if (path !== undefined) rmSync(path, { recursive: true, force: true });
    }
  }, opts.timeout);
  const work: TestWork = {
    get path() {
      if (path === undefined)
        throw new Error(`the ${label} work folder is made in beforeAll: use it in hooks and tests`);
      return path;
    },
    sub(name) {
      const dir = join(work.path, name ?? `${++subs}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    async database() {
      const db = await freshDatabase();
      cleanups.push(() => db.drop());
      return db;
    },
  };
  return work;
}
