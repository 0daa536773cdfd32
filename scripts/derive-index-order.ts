/**
 * Derives (or checks) the creation order of the baseline's keys and indexes that makes catalog
 * listings come out exactly as the reference's.
 *
 * Why: the reference schema-facts query aggregates each table's index definitions "ORDER BY 1",
 * which orders by a constant. What it lists is therefore the order of a hash join over a sequential
 * scan of pg_index (the physical order, which on a fresh database is creation order) after a sort
 * by table name, and PostgreSQL's quicksort does not keep ties in input order. Given the creation
 * order of every public parent-table index, the listing is determined; this script simulates that
 * sort (src/backend/utils/sort/ and src/include/lib/sort_template.h: median-of-three,
 * Bentley-McIlroy three-way partitioning, insertion sort below 7 elements, presorted check) and
 * searches for an order close to the table order of the baseline that reproduces the reference.
 *
 * The rows around the baseline's are fixed by the migrator: schema_migrations_pkey first,
 * post_deploy_schema_migrations_pkey after all pre-deployment migrations, then the two
 * post-deployment indexes (manifests (id), then blobs (id) WHERE id IS NULL).
 *
 *   npx tsx scripts/derive-index-order.ts           check the baseline's current order
 *   npx tsx scripts/derive-index-order.ts --derive  print VALUES rows for a working order
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const ROOT = new URL('../', import.meta.url);
const BASELINE = new URL('src/db/migrations/pre/20260101000000_regdb_baseline.sql', ROOT);
const REFERENCE = new URL('fixtures/schema/reference-schema.json', ROOT);

interface Reference {
  tables: Record<string, { partitioned: boolean; indexes: string[]; triggers: string[] }>;
}
interface Entry {
  table: string;
  name: string;
  definition: string;
}

const bytewise = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** PostgreSQL's in-memory quicksort on `items` (a copy), comparing with `cmp`. */
export function pgQuicksort<T>(items: readonly T[], cmp: (a: T, b: T) => number): T[] {
  const a = [...items];
  const swap = (i: number, j: number): void => {
    const t = a[i] as T;
    a[i] = a[j] as T;
    a[j] = t;
  };
  const swapn = (i: number, j: number, n: number): void => {
    for (let k = 0; k < n; k++) swap(i + k, j + k);
  };
  const c = (i: number, j: number): number => cmp(a[i] as T, a[j] as T);
  const med3 = (x: number, y: number, z: number): number =>
    c(x, y) < 0 ? (c(y, z) < 0 ? y : c(x, z) < 0 ? z : x) : c(y, z) > 0 ? y : c(x, z) < 0 ? x : z;
  const sort = (lo: number, n: number): void => {
    for (;;) {
      if (n < 7) {
        for (let pm = lo + 1; pm < lo + n; pm++)
          for (let pl = pm; pl > lo && c(pl - 1, pl) > 0; pl--) swap(pl, pl - 1);
        return;
      }
      let presorted = true;
      for (let pm = lo + 1; pm < lo + n; pm++) {
        if (c(pm - 1, pm) > 0) {
          presorted = false;
          break;
        }
      }
      if (presorted) return;
      let pm = lo + Math.floor(n / 2);
      if (n > 7) {
        let pl = lo;
        let pn = lo + n - 1;
        if (n > 40) {
          const d = Math.floor(n / 8);
          pl = med3(pl, pl + d, pl + 2 * d);
          pm = med3(pm - d, pm, pm + d);
          pn = med3(pn - 2 * d, pn - d, pn);
        }
        pm = med3(pl, pm, pn);
      }
      swap(lo, pm);
      let pa = lo + 1;
      let pb = pa;
      let pc = lo + n - 1;
      let pd = pc;
      for (;;) {
        let r: number;
        while (pb <= pc && (r = c(pb, lo)) <= 0) {
          if (r === 0) swap(pa++, pb);
          pb++;
        }
        while (pb <= pc && (r = c(pc, lo)) >= 0) {
          if (r === 0) swap(pc, pd--);
          pc--;
        }
        if (pb > pc) break;
        swap(pb++, pc--);
      }
      const pn = lo + n;
      let d1 = Math.min(pa - lo, pb - pa);
      swapn(lo, pb - d1, d1);
      d1 = Math.min(pd - pc, pn - pd - 1);
      swapn(pb, pn - d1, d1);
      d1 = pb - pa;
      const d2 = pd - pc;
      if (d1 <= d2) {
        if (d1 > 1) sort(lo, d1);
        if (d2 <= 1) return;
        lo = pn - d2;
        n = d2;
      } else {
        if (d2 > 1) sort(pn - d2, d2);
        if (d1 <= 1) return;
        n = d1;
      }
    }
  };
  sort(0, a.length);
  return a;
}

/** The keys-and-indexes VALUES list of the baseline, in position order. */
function baselineEntries(sql: string): Entry[] {
  const start = sql.indexOf('-- Keys and indexes');
  const block = sql.slice(start, sql.indexOf('$$;', start));
  const rows = [...block.matchAll(/\((\d+), '(\w+)', '(\w+)', '([^']+)'\)/g)];
  return rows
    .map((m) => ({
      pos: Number(m[1]),
      table: m[2] as string,
      name: m[3] as string,
      definition: m[4] as string,
    }))
    .sort((x, y) => x.pos - y.pos)
    .map(({ table, name, definition }) => ({ table, name, definition }));
}

/** The entry as the reference lists it (pg_get_indexdef without the index name). */
function listed(ref: Reference, e: Entry): string {
  const only = ref.tables[e.table]?.partitioned ? 'ONLY ' : '';
  const key = /^(?:PRIMARY KEY|UNIQUE) (\(.*\))$/.exec(e.definition);
  if (key) return `CREATE UNIQUE INDEX ON ${only}public.${e.table} USING btree ${key[1]}`;
  const idx = /^(\(.*?\))(?: WHERE (.*))?$/.exec(e.definition);
  if (!idx) throw new Error(`cannot read the definition of ${e.name}: ${e.definition}`);
  return `CREATE INDEX ON ${only}public.${e.table} USING btree ${idx[1]}${idx[2] ? ` WHERE (${idx[2]})` : ''}`;
}

const BEFORE = [
  { table: 'schema_migrations', def: 'CREATE UNIQUE INDEX ON public.schema_migrations USING btree (id)' },
];
const AFTER = [
  {
    table: 'post_deploy_schema_migrations',
    def: 'CREATE UNIQUE INDEX ON public.post_deploy_schema_migrations USING btree (id)',
  },
  { table: 'manifests', def: 'CREATE INDEX ON ONLY public.manifests USING btree (id)' },
  { table: 'blobs', def: 'CREATE INDEX ON ONLY public.blobs USING btree (id) WHERE (id IS NULL)' },
];

/** Each table's index list as the reference query would print it for this creation order. */
function predictListing(rows: readonly { table: string; def: string }[]): Map<string, string[]> {
  const sorted = pgQuicksort(rows, (x, y) => bytewise(x.table, y.table));
  const out = new Map<string, string[]>();
  for (const r of sorted) out.set(r.table, [...(out.get(r.table) ?? []), r.def]);
  return out;
}

function matches(ref: Reference, listing: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [table, t] of Object.entries(ref.tables)) {
    if (JSON.stringify(listing.get(table) ?? []) !== JSON.stringify(t.indexes)) bad.push(table);
  }
  return bad;
}

/**
 * An order of `entries` reproducing the reference: the table sequence of `entries` with up to
 * `maxMoves` entries moved, each table's own entries assigned so that the sort output is the
 * reference (ties are interchangeable inside the sort, so any table sequence determines them).
 */
function derive(ref: Reference, entries: Entry[], maxMoves: number): Entry[] | undefined {
  const byDef = new Map(entries.map((e) => [`${e.table}|${listed(ref, e)}`, e]));
  const target = Object.keys(ref.tables)
    .sort(bytewise)
    .flatMap((t) => (ref.tables[t]?.indexes ?? []).map((def) => ({ table: t, def })));
  let seed = 5;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let moves = 0; moves <= maxMoves; moves++) {
    for (let attempt = 0; attempt < (moves === 0 ? 1 : 200_000); attempt++) {
      const tables = entries.map((e) => e.table);
      for (let s = 0; s < moves; s++) {
        const [t] = tables.splice(Math.floor(rnd() * tables.length), 1);
        tables.splice(Math.floor(rnd() * (tables.length + 1)), 0, t as string);
      }
      const keys = [...BEFORE.map((b) => b.table), ...tables, ...AFTER.map((a) => a.table)];
      const order = pgQuicksort(
        keys.map((_, i) => i),
        (x, y) => bytewise(keys[x] as string, keys[y] as string),
      );
      const input: { table: string; def: string }[] = new Array(keys.length);
      order.forEach((src, i) => (input[src] = target[i] as { table: string; def: string }));
      const fixedOk = [...BEFORE, ...AFTER].every((f, i) => {
        const at = i < BEFORE.length ? i : keys.length - AFTER.length + (i - BEFORE.length);
        return input[at]?.def === f.def;
      });
      if (!fixedOk) continue;
      return input.slice(BEFORE.length, keys.length - AFTER.length).map((r) => {
        const e = byDef.get(`${r.table}|${r.def}`);
        if (!e) throw new Error(`no baseline entry lists as ${r.def}`);
        return e;
      });
    }
  }
  return undefined;
}

/** Tables whose index listing, for the baseline's current order, differs from the reference's. */
export function mislistedTables(): string[] {
  const ref = JSON.parse(readFileSync(REFERENCE, 'utf8')) as Reference;
  const entries = baselineEntries(readFileSync(BASELINE, 'utf8'));
  const rows = [...BEFORE, ...entries.map((e) => ({ table: e.table, def: listed(ref, e) })), ...AFTER];
  return matches(ref, predictListing(rows));
}

/**
 * Tables whose trigger listing differs from the reference's: the same sort over the baseline's
 * CREATE TRIGGER statements in file order, compared by trigger function.
 */
export function mislistedTriggerTables(): string[] {
  const ref = JSON.parse(readFileSync(REFERENCE, 'utf8')) as Reference;
  const sql = readFileSync(BASELINE, 'utf8');
  const up = sql.slice(0, sql.indexOf('-- regdb:down'));
  const created = [
    ...up.matchAll(
      /CREATE OR REPLACE TRIGGER \w+\s+[^;]*? ON public\.(\w+)[^;]*?FUNCTION public\.(\w+)\(\)/g,
    ),
  ];
  const listing = new Map<string, string[]>();
  const rows = created.map((m) => ({ table: m[1] as string, fn: m[2] as string }));
  for (const r of pgQuicksort(rows, (x, y) => bytewise(x.table, y.table))) {
    listing.set(r.table, [...(listing.get(r.table) ?? []), r.fn]);
  }
  const bad: string[] = [];
  for (const [table, t] of Object.entries(ref.tables)) {
    const expected = t.triggers.map((d) => /FUNCTION (\w+)\(\)/.exec(d)?.[1]);
    if (JSON.stringify(listing.get(table) ?? []) !== JSON.stringify(expected)) bad.push(table);
  }
  return bad;
}

function main(): void {
  const ref = JSON.parse(readFileSync(REFERENCE, 'utf8')) as Reference;
  const entries = baselineEntries(readFileSync(BASELINE, 'utf8'));
  if (process.argv.includes('--derive')) {
    const order = derive(ref, entries, 6);
    if (!order) throw new Error('no order found within 6 moves of the current one');
    console.log(
      order.map((e, i) => `            (${i + 1}, '${e.table}', '${e.name}', '${e.definition}')`).join(',\n'),
    );
    return;
  }
  const bad = mislistedTables();
  const badTriggers = mislistedTriggerTables();
  console.log(
    bad.length === 0
      ? `the baseline's ${entries.length} keys and indexes list exactly as the reference's`
      : `indexes listed differently from the reference: ${bad.join(', ')}`,
  );
  console.log(
    badTriggers.length === 0
      ? `the baseline's triggers list exactly as the reference's`
      : `triggers listed differently from the reference: ${badTriggers.join(', ')}`,
  );
  if (bad.length > 0 || badTriggers.length > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
