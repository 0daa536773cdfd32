/**
 * Catalog facts of a database's registry schema, in the shape of the reference
 * `fixtures/schema/reference-schema.json` (written by GitLab's schema-facts tool): the public
 * tables that are not partitions, with their columns, constraints, indexes, triggers and
 * partitioning; the number of tables in schema `partitions`; the names of the public functions.
 *
 * Index and trigger lists come out sorted. The reference tool aggregates them ordered by a
 * constant, so its list order is the physical order of pg_index/pg_trigger rows after an unstable
 * sort: meaningless for equality, and different after an up -> down -> up. `normalizeFacts` sorts
 * the reference's lists the same way before comparing.
 */
import type pg from 'pg';

export interface ColumnFact {
  name: string;
  type: string;
  notnull: boolean;
  default: string | null;
  /** pg_attribute.attidentity: '' (none), 'a' (always) or 'd' (by default). */
  identity: string;
}

export interface ConstraintFact {
  type: string;
  name: string;
  def: string;
}

export interface TableFact {
  partitioned: boolean;
  partition_key: string | null;
  partitions: number | null;
  columns: ColumnFact[];
  constraints: ConstraintFact[];
  indexes: string[];
  triggers: string[];
}

export interface SchemaFacts {
  tables: Record<string, TableFact>;
  partition_schema_tables: number;
  functions: string[];
}

// One row per top-level public table; the per-table lists are built by correlated subqueries.
// Index and trigger definitions lose their own names (the reference compares definitions only).
const FACTS_SQL = `
WITH tbl AS (
  SELECT c.oid, c.relname, c.relkind = 'p' AS partitioned
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
  WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
)
SELECT
  tbl.relname AS name,
  tbl.partitioned,
  CASE WHEN tbl.partitioned THEN pg_catalog.pg_get_partkeydef(tbl.oid) END AS partition_key,
  CASE WHEN tbl.partitioned THEN
    (SELECT count(*)::int FROM pg_catalog.pg_inherits inh WHERE inh.inhparent = tbl.oid)
  END AS partitions,
  (SELECT coalesce(json_agg(json_build_object(
            'name', a.attname,
            'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
            'notnull', a.attnotnull,
            'default', pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
            'identity', a.attidentity::text
          ) ORDER BY a.attname), '[]')
     FROM pg_catalog.pg_attribute a
     LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attrelid = tbl.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT coalesce(json_agg(json_build_object('type', x.contype, 'name', x.conname, 'def', x.def)
            ORDER BY x.contype, x.def COLLATE "C"), '[]')
     FROM (SELECT co.contype::text AS contype, co.conname, pg_catalog.pg_get_constraintdef(co.oid) AS def
           FROM pg_catalog.pg_constraint co
           WHERE co.conrelid = tbl.oid AND co.conparentid = 0) x) AS constraints,
  (SELECT coalesce(json_agg(x.def ORDER BY x.def COLLATE "C"), '[]')
     FROM (SELECT regexp_replace(pg_catalog.pg_get_indexdef(i.indexrelid),
                                 '^CREATE (UNIQUE )?INDEX \\S+ ON ', 'CREATE \\1INDEX ON ') AS def
           FROM pg_catalog.pg_index i WHERE i.indrelid = tbl.oid) x) AS indexes,
  (SELECT coalesce(json_agg(x.def ORDER BY x.def COLLATE "C"), '[]')
     FROM (SELECT regexp_replace(pg_catalog.pg_get_triggerdef(tg.oid), '^CREATE TRIGGER \\S+ ', 'CREATE TRIGGER ') AS def
           FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid = tbl.oid AND NOT tg.tgisinternal) x) AS triggers
FROM tbl
ORDER BY tbl.relname`;

const PARTITION_TABLES_SQL = `
SELECT count(*)::int AS n
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
WHERE ns.nspname = 'partitions' AND c.relkind IN ('r', 'p')`;

const FUNCTIONS_SQL = `
SELECT p.proname AS name
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace ns ON ns.oid = p.pronamespace
WHERE ns.nspname = 'public'
ORDER BY p.proname`;

interface TableRow extends TableFact {
  name: string;
}

/** Reads the facts through `client` (the session's search_path decides how names are qualified). */
export async function readSchemaFacts(client: pg.ClientBase | pg.Pool): Promise<SchemaFacts> {
  const tables = await client.query<TableRow>(FACTS_SQL);
  const parts = await client.query<{ n: number }>(PARTITION_TABLES_SQL);
  const funcs = await client.query<{ name: string }>(FUNCTIONS_SQL);
  const facts: SchemaFacts = {
    tables: {},
    partition_schema_tables: parts.rows[0]?.n ?? 0,
    functions: funcs.rows.map((r) => r.name),
  };
  for (const { name, ...table } of tables.rows) facts.tables[name] = table;
  return facts;
}

const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A copy with index and trigger lists sorted bytewise (see the module comment). */
export function normalizeFacts(facts: SchemaFacts): SchemaFacts {
  const tables: Record<string, TableFact> = {};
  for (const [name, t] of Object.entries(facts.tables)) {
    tables[name] = { ...t, indexes: [...t.indexes].sort(bytewise), triggers: [...t.triggers].sort(bytewise) };
  }
  return { ...facts, tables };
}

function show(v: unknown): string {
  return JSON.stringify(v);
}

function diffKeyed<T>(
  path: string,
  expected: readonly T[],
  actual: readonly T[],
  key: (x: T) => string,
  out: string[],
): void {
  const before = out.length;
  const exp = new Map(expected.map((x) => [key(x), x]));
  const act = new Map(actual.map((x) => [key(x), x]));
  for (const [k, e] of exp) {
    const a = act.get(k);
    if (a === undefined) out.push(`${path}: missing ${show(e)}`);
    else if (show(a) !== show(e)) out.push(`${path}[${k}]: expected ${show(e)}, got ${show(a)}`);
  }
  for (const [k, a] of act) if (!exp.has(k)) out.push(`${path}: unexpected ${show(a)}`);
  if (out.length === before && show(expected.map(key)) !== show(actual.map(key))) {
    out.push(`${path}: same entries in a different order`);
  }
}

/** Readable differences, one line each; empty when the facts are equal. */
export function diffFacts(expected: SchemaFacts, actual: SchemaFacts): string[] {
  const out: string[] = [];
  for (const name of Object.keys(expected.tables)) {
    if (!(name in actual.tables)) out.push(`tables.${name}: missing`);
  }
  for (const [name, a] of Object.entries(actual.tables)) {
    const e = expected.tables[name];
    if (e === undefined) {
      out.push(`tables.${name}: unexpected table`);
      continue;
    }
    const p = `tables.${name}`;
    for (const k of ['partitioned', 'partition_key', 'partitions'] as const) {
      if (e[k] !== a[k]) out.push(`${p}.${k}: expected ${show(e[k])}, got ${show(a[k])}`);
    }
    const lines: string[] = [];
    diffKeyed(`${p}.columns`, e.columns, a.columns, (c) => c.name, lines);
    diffKeyed(`${p}.constraints`, e.constraints, a.constraints, (c) => `${c.type} ${c.name}`, lines);
    diffKeyed(`${p}.indexes`, e.indexes, a.indexes, (d) => d, lines);
    diffKeyed(`${p}.triggers`, e.triggers, a.triggers, (d) => d, lines);
    out.push(...lines);
  }
  if (expected.partition_schema_tables !== actual.partition_schema_tables) {
    out.push(
      `partition_schema_tables: expected ${expected.partition_schema_tables}, got ${actual.partition_schema_tables}`,
    );
  }
  if (show(expected.functions) !== show(actual.functions)) {
    out.push(`functions: expected ${show(expected.functions)}, got ${show(actual.functions)}`);
  }
  return out;
}
