/**
 * Moments of an import that an observer may act on: the kill tests stop the process at one of them
 * to prove that a rerun converges (issue 5 §4). The composition root passes an `ImportEvents` to the
 * run and the writer; production passes none, so nothing here reads the environment or ships a
 * test's switch (issue 16 §2).
 */
import type { Step } from './import-rows.js';

/**
 * `copy`: a COPY has sent its first chunk and not finished (COPYs with no rows send none);
 * `merge`: between merge statements; `before-commit`, `after-commit`: around the commit of a batch
 * and its checkpoints; `step-finished`: a step is recorded as finished.
 */
export type ImportPoint = 'copy' | 'merge' | 'before-commit' | 'after-commit' | 'step-finished';

export interface ImportEvents {
  /** Awaited where it is reached, so an observer may pause the import there. */
  reached(point: ImportPoint, step: Step): void | Promise<void>;
}
