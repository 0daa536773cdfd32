/**
 * Crash points for the kill tests (issue 5 §4, test/integration/import-kill.test.ts). With
 * `REGDB_TEST_KILL_AT=<point>:<step>[@<n>]` the process SIGKILLs itself the n-th time (default the
 * first) it reaches `<point>` while writing step `<step>`; unset, every call is a cheap no-op.
 * Points: `copy` (a COPY has sent data but not finished; COPYs with no rows send none and do not
 * count), `merge` (between merge statements),
 * `before-commit`, `after-commit` (a batch and its checkpoints are committed), `step-finished`.
 */
export type KillPointName = 'copy' | 'merge' | 'before-commit' | 'after-commit' | 'step-finished';

export const KILL_ENV = 'REGDB_TEST_KILL_AT';

interface KillSpec {
  readonly point: string;
  readonly step: number;
  readonly occurrence: number;
}

export function parseKillSpec(value: string | undefined): KillSpec | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^([a-z-]+):([123])(?:@(\d+))?$/.exec(value);
  if (!m) throw new Error(`${KILL_ENV}="${value}" is not <point>:<step>[@<n>], e.g. merge:2@3.`);
  return { point: m[1]!, step: Number(m[2]), occurrence: m[3] !== undefined ? Number(m[3]) : 1 };
}

const spec = parseKillSpec(process.env[KILL_ENV]);
const reached = new Map<string, number>();
let currentStep = 0;

/** The step whose batch is being written (set by the writer before each batch). */
export function setHookStep(step: number): void {
  currentStep = step;
}

export function killPoint(point: KillPointName, step: number = currentStep): void {
  if (spec === undefined || spec.point !== point || spec.step !== step) return;
  const n = (reached.get(point) ?? 0) + 1;
  reached.set(point, n);
  if (n === spec.occurrence) process.kill(process.pid, 'SIGKILL');
}

/**
 * Passes COPY chunks through; at the `copy` point it waits for the first chunk to reach the server
 * and dies before the COPY ends.
 */
export async function* killDuringCopy(chunks: Iterable<Buffer>): AsyncGenerator<Buffer> {
  let first = true;
  for (const chunk of chunks) {
    yield chunk;
    if (first && spec !== undefined && spec.point === 'copy') {
      first = false;
      await new Promise((r) => setTimeout(r, 50));
      killPoint('copy');
    }
  }
}

/** The COPY source unchanged, unless the kill spec names the `copy` point. */
export function withCopyKillPoint(chunks: Iterable<Buffer>): Iterable<Buffer> | AsyncIterable<Buffer> {
  return spec?.point === 'copy' ? killDuringCopy(chunks) : chunks;
}
