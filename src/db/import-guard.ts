/**
 * Keeps a dry run and a real import apart. A dry run draws identity values and puts the sequences
 * back when it ends (nextval is not transactional); a real import drawing values meanwhile would
 * then see its sequences move backwards and collide with its own rows. So every real import (each
 * shard too) holds a shared session-level advisory lock for its whole run and a dry run holds it
 * exclusively: whichever comes second refuses to start, with a message saying why.
 *
 * The lock lives on a connection of its own, outside the pool, so a small `pool.maxopen` cannot
 * starve the import of connections.
 */
import pg from 'pg';
import type { Logger } from '../log.js';

/** An arbitrary, fixed key ("regdb" import); migrate and the checkpoint DDL use others. */
export const IMPORT_LOCK_KEY = '726567646202';

export class ImportRunningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportRunningError';
  }
}

export class ImportGuard {
  private constructor(private readonly client: pg.Client) {}

  static async acquire(pool: pg.Pool, dryRun: boolean, logger: Logger): Promise<ImportGuard> {
    // pg-pool keeps the password as a non-enumerable property of `options`: a spread drops it.
    const client = new pg.Client({
      ...pool.options,
      password: pool.options.password,
      application_name: 'regdb import guard',
    });
    client.on('error', (err) =>
      logger.warn(
        { code: (err as { code?: unknown }).code, message: err.message },
        'the import guard connection failed',
      ),
    );
    await client.connect();
    try {
      const fn = dryRun ? 'pg_try_advisory_lock' : 'pg_try_advisory_lock_shared';
      const { rows } = await client.query<{ locked: boolean }>(`SELECT ${fn}($1::bigint) AS locked`, [
        IMPORT_LOCK_KEY,
      ]);
      if (rows[0]?.locked !== true) {
        throw new ImportRunningError(
          dryRun
            ? 'another regdb database import is running against this database: a dry run puts the ' +
                'sequences back when it ends, so it must run alone; try again when that import has finished'
            : 'a dry run of regdb database import is running against this database: it puts the ' +
                'sequences back when it ends, so no real import may run beside it; wait for it to finish',
        );
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return new ImportGuard(client);
  }

  /** Ends the guard's session, which releases the lock. */
  async release(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
