/**
 * Step times predicted from an inventory and the measured rates (issue 14 §1), pure.
 *
 * Per step: storage seconds = the listing it repeats (measured) + the requests it sends / the
 * measured request rate; database seconds = the rows it writes / the measured rates (COPY, then a
 * merge with an index). The import overlaps reading and writing, so the step takes the longer of the
 * two, times a per-step factor for the work neither probe sees (JSON parsing, row building, the real
 * tables' partitions, indexes and triggers). The factors were fitted once on the bench corpus
 * (scripts/bench-estimate.ts prints prediction and measurement side by side; README).
 */
import type { CopyProbe } from '../db/copy-probe.js';
import type { Inventory } from './inventory.js';

export interface StepEstimate {
  readonly step: 1 | 2 | 3;
  readonly requests: number;
  readonly rows: number;
  readonly storageSeconds: number;
  readonly databaseSeconds: number;
  readonly seconds: number;
}

/** Unmeasured work per step, fitted on the bench corpus (see the module comment). */
export const STEP_FACTORS: Record<1 | 2 | 3, number> = { 1: 1, 2: 1, 3: 1 };

function step2Listing(inv: Inventory): number {
  if (!inv.directoryWalk) return 1;
  const t = inv.total;
  const files = t.tags + t.manifests + t.layerLinks;
  return files === 0 ? 1 : (t.tags + t.manifests) / files;
}

export function predict(inv: Inventory, db: CopyProbe, factors = STEP_FACTORS): StepEstimate[] {
  const t = inv.total;
  const linkRate = Math.max(inv.readRate.linkReadsPerSecond, 1);
  const statRate = Math.max(inv.readRate.statsPerSecond, 1);
  const perRow = 1 / Math.max(db.copyRowsPerSecond, 1) + 1 / Math.max(db.mergeRowsPerSecond, 1);
  // Layer blobs are stat'ed once per run (a shared cache): at most one per distinct blob.
  const layerStats = Math.min(t.layerLinks, t.blobs);
  const step = (n: 1 | 2 | 3, listing: number, reads: number, stats: number, rows: number): StepEstimate => {
    const storageSeconds = listing + reads / linkRate + stats / statRate;
    const databaseSeconds = rows * perRow;
    return {
      step: n,
      requests: reads + stats,
      rows,
      storageSeconds,
      databaseSeconds,
      seconds: Math.max(storageSeconds, databaseSeconds) * factors[n],
    };
  };
  return [
    // Tag links; per revision its link, its blob and its config; a stat per distinct layer blob.
    // Rows: repositories, manifests, layers, repository_blobs (layers and configs), blobs.
    step(
      1,
      inv.listingSeconds.repositories,
      t.tags + 3 * t.manifests,
      layerStats,
      t.repositories + 2 * t.manifests + 2 * t.layerLinks + Math.min(t.blobs, t.layerLinks + t.manifests),
    ),
    // Tag links again; manifests are in the database. Rows: tags (and the repositories they sync).
    // On a filesystem the walk leaves `_layers` out: its share of the listing, by files listed.
    step(2, inv.listingSeconds.repositories * step2Listing(inv), t.tags, 0, t.tags + t.repositories),
    // One walk of common storage; a row per blob (most already there: looked up, not inserted).
    step(3, inv.listingSeconds.blobs, 0, 0, t.blobs),
  ];
}
