/**
 * `regdb database verify` (issue 14 §2), database side: one REPEATABLE READ, READ ONLY transaction on
 * one connection for the whole run, so every query sees the same snapshot and nothing can be written
 * (PostgreSQL refuses writes with SQLSTATE 25006). Rows come back keyed by natural keys (repository
 * path, digest string, tag name), as the storage side knows them.
 */
import type pg from 'pg';
import { byteaToDigest, formatDigest } from '../registry/digest.js';

export interface DbManifest {
  readonly id: string;
  readonly digest: string;
  readonly payload: Buffer;
  readonly mediaType: string;
  readonly nonConformant: boolean;
}

export interface DbLayer {
  readonly manifest: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly size: bigint;
}

export interface DbBlob {
  readonly digest: string;
  readonly size: bigint;
  readonly mediaType: string;
}

/** Everything the database holds for one repository. */
export interface DbRepository {
  readonly path: string;
  /** tag name -> manifest digest */
  readonly tags: ReadonlyMap<string, string>;
  readonly manifests: ReadonlyMap<string, DbManifest>;
  readonly layers: readonly DbLayer[];
  /** parent digest -> child digests */
  readonly references: ReadonlyMap<string, ReadonlySet<string>>;
  /** Blobs linked to the repository (repository_blobs). */
  readonly blobs: readonly DbBlob[];
}

const digestOf = (b: Buffer): string => formatDigest(byteaToDigest(b));

export class VerifySnapshot {
  private constructor(private readonly client: pg.PoolClient) {}

  /** One query at a time on the snapshot's connection (a pg client does not multiplex). */
  private tail: Promise<unknown> = Promise.resolve();
  private query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    const next = this.tail.then(() => this.client.query<R>(sql, params));
    this.tail = next.catch(() => undefined);
    return next;
  }

  static async open(pool: pg.Pool): Promise<VerifySnapshot> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // Lookups on 64-partition tables: JIT compiling them costs more than the queries.
      await client.query('SET LOCAL jit = off');
    } catch (err) {
      client.release(true);
      throw err;
    }
    return new VerifySnapshot(client);
  }

  async close(): Promise<void> {
    let broken = false;
    try {
      await this.client.query('ROLLBACK');
    } catch {
      broken = true;
    } finally {
      this.client.release(broken);
    }
  }

  async repositoryPaths(): Promise<string[]> {
    const r = await this.query<{ path: string }>(
      'SELECT path FROM repositories WHERE deleted_at IS NULL ORDER BY path COLLATE "C"',
    );
    return r.rows.map((x) => x.path);
  }

  async repository(path: string): Promise<DbRepository | undefined> {
    const c = { query: this.query.bind(this) };
    const repo = await c.query<{ ns: string; id: string }>(
      'SELECT top_level_namespace_id AS ns, id FROM repositories WHERE path = $1 AND deleted_at IS NULL',
      [path],
    );
    const key = repo.rows[0];
    if (key === undefined) return undefined;
    const k = [key.ns, key.id];
    const manifests = await c.query<{
      id: string;
      digest: Buffer;
      payload: Buffer;
      media_type: string;
      non_conformant: boolean;
    }>(
      `SELECT m.id, m.digest, m.payload, mt.media_type, m.non_conformant FROM manifests m
       JOIN media_types mt ON mt.id = m.media_type_id
       WHERE m.top_level_namespace_id = $1 AND m.repository_id = $2`,
      k,
    );
    const byId = new Map<string, string>();
    const out = new Map<string, DbManifest>();
    for (const m of manifests.rows) {
      const digest = digestOf(m.digest);
      byId.set(m.id, digest);
      out.set(digest, {
        id: m.id,
        digest,
        payload: m.payload,
        mediaType: m.media_type,
        nonConformant: m.non_conformant,
      });
    }
    const tags = await c.query<{ name: string; manifest_id: string }>(
      'SELECT name, manifest_id FROM tags WHERE top_level_namespace_id = $1 AND repository_id = $2',
      k,
    );
    const layers = await c.query<{ manifest_id: string; digest: Buffer; media_type: string; size: string }>(
      `SELECT l.manifest_id, l.digest, mt.media_type, l.size FROM layers l
       JOIN media_types mt ON mt.id = l.media_type_id
       WHERE l.top_level_namespace_id = $1 AND l.repository_id = $2`,
      k,
    );
    const refs = await c.query<{ parent_id: string; child_id: string }>(
      'SELECT parent_id, child_id FROM manifest_references WHERE top_level_namespace_id = $1 AND repository_id = $2',
      k,
    );
    const blobs = await c.query<{ digest: Buffer; size: string; media_type: string }>(
      `SELECT b.digest, b.size, mt.media_type FROM repository_blobs rb
       JOIN blobs b ON b.digest = rb.blob_digest
       JOIN media_types mt ON mt.id = b.media_type_id
       WHERE rb.top_level_namespace_id = $1 AND rb.repository_id = $2`,
      k,
    );
    const references = new Map<string, Set<string>>();
    for (const r of refs.rows) {
      const parent = byId.get(r.parent_id) ?? `id:${r.parent_id}`;
      let set = references.get(parent);
      if (set === undefined) references.set(parent, (set = new Set()));
      set.add(byId.get(r.child_id) ?? `id:${r.child_id}`);
    }
    return {
      path,
      tags: new Map(tags.rows.map((t) => [t.name, byId.get(t.manifest_id) ?? `id:${t.manifest_id}`])),
      manifests: out,
      layers: layers.rows.map((l) => ({
        manifest: byId.get(l.manifest_id) ?? `id:${l.manifest_id}`,
        digest: digestOf(l.digest),
        mediaType: l.media_type,
        size: BigInt(l.size),
      })),
      references,
      blobs: blobs.rows.map((b) => ({
        digest: digestOf(b.digest),
        size: BigInt(b.size),
        mediaType: b.media_type,
      })),
    };
  }

  /** Every blob row in digest order (the order a walk of common storage yields), a page at a time. */
  async *allBlobs(pageSize = 10_000): AsyncGenerator<DbBlob> {
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const page = await this.query<{ digest: Buffer; size: string; media_type: string }>(
        `SELECT b.digest, b.size, mt.media_type FROM blobs b JOIN media_types mt ON mt.id = b.media_type_id
         WHERE b.digest > $1 ORDER BY b.digest LIMIT $2`,
        [after, pageSize],
      );
      for (const b of page.rows)
        yield { digest: digestOf(b.digest), size: BigInt(b.size), mediaType: b.media_type };
      if (page.rows.length < pageSize) return;
      after = page.rows.at(-1)!.digest;
    }
  }
}
