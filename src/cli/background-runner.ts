/**
 * The synchronous background-migration runner on PostgreSQL: bbm's runner on the pg store. Composed
 * here, in the CLI, and handed to `migrateUp`, so that neither src/db nor src/bbm imports the other's
 * logic (issue 16 §1).
 */
import { runBackgroundMigrationsSync } from '../bbm/sync.js';
import { createBbmStore } from '../db/bbm/pg-store.js';
import type { BackgroundMigrationRunner } from '../db/migration-bbm.js';

export const runBackgroundMigrations: BackgroundMigrationRunner = (pool, opts) =>
  runBackgroundMigrationsSync(createBbmStore(pool), opts);
