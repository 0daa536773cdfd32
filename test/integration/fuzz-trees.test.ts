/**
 * Issue 17 §2: the mutation fuzzer (test/fuzz/) over small damaged trees. CI runs a fixed seed of
 * 200 cases; `npm run fuzz -- --cases N --seed S` runs any number (REGDB_FUZZ_CASES, REGDB_FUZZ_SEED,
 * REGDB_FUZZ_CONCURRENCY, REGDB_FUZZ_KEEP). Cases run a few at once, each worker on its own database,
 * emptied between cases (resetImportTables) instead of cloned per case.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import {
  referenceImport,
  runCase,
  summarize,
  VARIANTS,
  type CaseResult,
  type Reference,
} from '../fuzz/harness.js';

const CASES = Number(process.env.REGDB_FUZZ_CASES ?? 200);
const SEED = Number(process.env.REGDB_FUZZ_SEED ?? 17);
const CONCURRENCY = Number(process.env.REGDB_FUZZ_CONCURRENCY ?? 2);
const FIRST = Number(process.env.REGDB_FUZZ_FIRST ?? 0);

let work: string;
const databases: TestDatabase[] = [];
const references = new Map<number, Reference>();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'regdb-fuzz-'));
  for (let i = 0; i < CONCURRENCY; i++) databases.push(await freshDatabase());
  for (let v = 0; v < VARIANTS; v++) references.set(v, await referenceImport(databases[0]!, work, SEED, v));
}, 600_000);

afterAll(async () => {
  for (const db of databases) await db.drop();
  if (work && process.env.REGDB_FUZZ_KEEP === undefined) rmSync(work, { recursive: true, force: true });
});

it(`${CASES} damaged trees (seed ${SEED}): exit 0/1/2, no hang or stack trace, damage imported or reported, other repositories unchanged, nothing outside the root read`, async () => {
  const results: CaseResult[] = [];
  let next = FIRST;
  const worker = async (db: TestDatabase): Promise<void> => {
    while (next < FIRST + CASES) {
      const index = next++;
      results.push(
        await runCase({
          seed: SEED,
          index,
          work,
          db,
          references,
          keep: process.env.REGDB_FUZZ_KEEP !== undefined,
        }),
      );
    }
  };
  await Promise.all(databases.map((db) => worker(db)));
  results.sort((a, b) => a.index - b.index);
  const summary = summarize(results);
  console.log(summary);
  if (process.env.REGDB_FUZZ_OUT) writeFileSync(process.env.REGDB_FUZZ_OUT, JSON.stringify(results, null, 2));
  expect(results).toHaveLength(CASES);
  expect(
    results.flatMap((r) =>
      r.findings.map((f) => ({ ...f, detail: `${r.detail} | ${f.detail}`.slice(0, 600) })),
    ),
    summary,
  ).toEqual([]);
}, 3_600_000);
