/**
 * Database side of the benchmark: create and drop databases on the benchmark server, find the tables
 * an import filled (in foreign-key order), and count their rows. Uses the server's admin URL.
 */
import pg from 'pg';

/** The same server's URL for another database. */
export function urlFor(url: string, dbname: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(dbname)}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `name` (empty, or as a copy of `template`, which must have no connections). */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  await dropDatabase(adminUrl, name);
  const from = template !== undefined ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`));
  return urlFor(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  // WITH (FORCE) (PostgreSQL 13+): a killed import may leave a backend behind for a moment.
  await withClient(adminUrl, (c) =>
    c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  );
}

export interface TableInfo {
  /** Schema-qualified, quoted name usable in SQL and psql's \copy. */
  readonly qualified: string;
  readonly schema: string;
  readonly name: string;
  /** Column names in attribute order, generated columns left out (COPY cannot write them). */
  readonly columns: readonly string[];
  readonly hasId: boolean;
}

/**
 * Ordinary and partitioned parent tables of the given schemas (partitions are reached through their
 * parent), ordered so that every table comes after the tables its foreign keys reference.
 */
export async function tablesInFkOrder(url: string, schemas: readonly string[]): Promise<TableInfo[]> {
  return withClient(url, async (c) => {
    const tables = await c.query<{ oid: number; schema: string; name: string; columns: string[] }>(
      `SELECT cl.oid::int AS oid, n.nspname AS schema, cl.relname AS name,
              array_agg(a.attname::text ORDER BY a.attnum) AS columns
         FROM pg_class cl
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
                                AND a.attgenerated = ''
        WHERE cl.relkind IN ('r', 'p') AND NOT cl.relispartition AND n.nspname = ANY($1)
        GROUP BY cl.oid, n.nspname, cl.relname
        ORDER BY n.nspname, cl.relname`,
      [schemas],
    );
    const fks = await c.query<{ from: number; to: number }>(
      `SELECT DISTINCT conrelid::int AS "from", confrelid::int AS "to" FROM pg_constraint
        WHERE contype = 'f' AND conrelid <> confrelid AND conparentid = 0`,
    );
    const deps = new Map<number, Set<number>>();
    for (const f of fks.rows) {
      if (!deps.has(f.from)) deps.set(f.from, new Set());
      deps.get(f.from)!.add(f.to);
    }
    const byOid = new Map(tables.rows.map((t) => [t.oid, t]));
    const ordered: TableInfo[] = [];
    const state = new Map<number, 'visiting' | 'done'>();
    const visit = (oid: number): void => {
      if (state.get(oid) === 'done' || state.get(oid) === 'visiting') return;
      state.set(oid, 'visiting');
      for (const d of deps.get(oid) ?? []) if (byOid.has(d)) visit(d);
      state.set(oid, 'done');
      const t = byOid.get(oid)!;
      ordered.push({
        qualified: `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.name)}`,
        schema: t.schema,
        name: t.name,
        columns: t.columns,
        hasId: t.columns.includes('id'),
      });
    };
    for (const t of tables.rows) visit(t.oid);
    return ordered;
  });
}

export interface TableState {
  readonly rows: number;
  /** max(id) as text (bigint) when the table has an id column. */
  readonly maxId?: string;
}

export async function tableStates(
  url: string,
  tables: readonly TableInfo[],
): Promise<Map<string, TableState>> {
  return withClient(url, async (c) => {
    const out = new Map<string, TableState>();
    for (const t of tables) {
      const r = await c.query<{ n: string; max: string | null }>(
        `SELECT count(*)::text AS n, ${t.hasId ? 'max(id)::text' : 'NULL::text'} AS max FROM ${t.qualified}`,
      );
      const row = r.rows[0]!;
      out.set(t.qualified, { rows: Number(row.n), ...(row.max !== null ? { maxId: row.max } : {}) });
    }
    return out;
  });
}
