/**
 * Kill points for the kill tests (issue 5 §4), as ImportEvents: `REGDB_TEST_KILL_AT=<point>:<step>[@<n>]`
 * SIGKILLs the process the n-th time (default the first) the import reaches `<point>` while writing
 * step `<step>`. Points: src/db/import-events.ts. For `copy` the process first waits 50 ms, so the
 * COPY's first chunk reaches the server before it dies. Only test/helpers/import-events-entry.ts
 * installs them; the variable exists only in test/ (test/integration/dist-seams.test.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImportEvents, ImportPoint } from '../../src/db/import-events.js';
import type { Step } from '../../src/db/import-rows.js';

export const KILL_ENV = 'REGDB_TEST_KILL_AT';

const POINTS: readonly ImportPoint[] = ['copy', 'merge', 'before-commit', 'after-commit', 'step-finished'];

export interface KillSpec {
  readonly point: ImportPoint;
  readonly step: Step;
  readonly occurrence: number;
}

export function parseKillSpec(value: string): KillSpec {
  const m = /^([a-z-]+):([123])(?:@(\d+))?$/.exec(value);
  const point = m?.[1] as ImportPoint | undefined;
  if (!m || point === undefined || !POINTS.includes(point)) {
    throw new Error(
      `${KILL_ENV}="${value}" is not <point>:<step>[@<n>] with a point of ${POINTS.join(', ')}.`,
    );
  }
  return { point, step: Number(m[2]) as Step, occurrence: m[3] !== undefined ? Number(m[3]) : 1 };
}

export function killAt(spec: KillSpec): ImportEvents {
  let reached = 0;
  return {
    async reached(point, step) {
      if (point !== spec.point || step !== spec.step) return;
      reached++;
      if (reached !== spec.occurrence) return;
      if (point === 'copy') await sleep(50);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}
