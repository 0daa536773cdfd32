/**
 * Writes a synthetic corpus to disk with synchronous fs calls (the fastest way to create hundreds of
 * thousands of small files from one thread), plus the files a benchmark needs beside the tree.
 */
import { mkdirSync, rmSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { corpusFiles, type CorpusCounts } from './synthetic-files.js';
import { planCorpus, type CorpusParams } from './synthetic-plan.js';

/** Beside the tree: what was generated, so a cache can be trusted only once a run completed. */
export const SUMMARY_FILE = 'synthetic-corpus.json';
/** NUL-separated relative paths of the manifest and config blobs (the blob files an import reads). */
export const READ_BLOBS_FILE = 'import-read-blobs.nul';
export const CONFIG_FILE = 'config.yml';

export interface CorpusSummary {
  readonly params: CorpusParams;
  readonly counts: CorpusCounts;
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** The registry config beside the tree: filesystem driver rooted at the config's own folder. */
export const CORPUS_CONFIG = `version: 0.1
# Synthetic registry written by scripts/gen-synthetic.ts; rootdirectory is relative to this file.
storage:
  filesystem:
    rootdirectory: .
`;

export function writeCorpus(dir: string, params: CorpusParams): CorpusSummary {
  const started = process.hrtime.bigint();
  if (existsSync(join(dir, 'docker'))) rmSync(join(dir, 'docker'), { recursive: true, force: true });
  rmSync(join(dir, SUMMARY_FILE), { force: true });
  mkdirSync(dir, { recursive: true });

  const plan = planCorpus(params);
  const made = new Set<string>();
  const readBlobs: string[] = [];
  let files = 0;
  let bytes = 0;
  const gen = corpusFiles(plan);
  let step = gen.next();
  while (step.done !== true) {
    const f = step.value;
    const full = join(dir, f.path);
    const parent = dirname(full);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    writeFileSync(full, f.data);
    files++;
    bytes += typeof f.data === 'string' ? Buffer.byteLength(f.data) : f.data.length;
    if (f.role === 'manifest-blob' || f.role === 'config-blob') readBlobs.push(f.path);
    step = gen.next();
  }
  writeFileSync(join(dir, READ_BLOBS_FILE), readBlobs.length > 0 ? readBlobs.join('\0') + '\0' : '');
  writeFileSync(join(dir, CONFIG_FILE), CORPUS_CONFIG);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const summary: CorpusSummary = { params, counts: step.value, files, bytes, seconds };
  // Written last: its presence marks a complete tree.
  writeFileSync(join(dir, SUMMARY_FILE), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The summary of a complete tree with exactly these parameters, or undefined. */
export function readCorpusSummary(dir: string, params: CorpusParams): CorpusSummary | undefined {
  try {
    const s = JSON.parse(readFileSync(join(dir, SUMMARY_FILE), 'utf8')) as CorpusSummary;
    const same = (Object.keys(params) as (keyof CorpusParams)[]).every((k) => s.params[k] === params[k]);
    return same ? s : undefined;
  } catch {
    return undefined;
  }
}
