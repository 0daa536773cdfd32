/**
 * How the importer fills GitLab's GC queues (issue 5 §5). GitLab's schema fills them with row
 * triggers, and every inserted row also pays its foreign-key triggers: about two thirds of the bulk
 * load's database time. In "set-based" mode the bulk inserts run with `session_replication_role =
 * replica` (no row triggers, no foreign-key triggers) and each merge inserts the GC rows its
 * triggers would have inserted in the same statement; the foreign keys are checked set-based once
 * per batch instead (import-sql.ts, BULK_FK_CHECK).
 *
 * Set-based mode is used only when it is provably equivalent: the role may set
 * session_replication_role (a superuser, or `GRANT SET ON PARAMETER` on PostgreSQL 15+), and the
 * insert and update triggers of the bulk-loaded tables are exactly the ones emulated, enabled the
 * ordinary way (a trigger enabled ALWAYS or REPLICA, or one added by a newer schema, would fire or be
 * lost differently). Otherwise GitLab's triggers do the work, as they would for GitLab's importer.
 */
import type pg from 'pg';

export type GcMode = 'set-based' | 'triggers';

export interface GcModeChoice {
  readonly mode: GcMode;
  /** Why set-based mode is not used (null when it is, or when it was not asked for). */
  readonly reason: string | null;
}

/** The insert/update triggers the set-based merges reproduce: `table/trigger/function`. */
export const EMULATED_TRIGGERS: readonly string[] = [
  'blobs/gc_track_blob_uploads_trigger/gc_track_blob_uploads',
  'layers/gc_track_layer_blobs_trigger/gc_track_layer_blobs',
  'manifests/gc_track_configuration_blobs_trigger/gc_track_configuration_blobs',
  'manifests/gc_track_manifest_uploads_trigger/gc_track_manifest_uploads',
  'manifests/gc_track_tmp_blobs_manifests_trigger/gc_track_tmp_blobs_manifests',
  'manifests/set_media_type_id_convert_to_bigint/set_media_type_id_convert_to_bigint',
];

/** Tables written while the row triggers are off. */
export const BULK_TABLES: readonly string[] = [
  'media_types',
  'top_level_namespaces',
  'repositories',
  'blobs',
  'repository_blobs',
  'manifests',
  'layers',
  'manifest_references',
];

/**
 * Tables whose new rows are inserted while the row triggers are off, and only inserted then (a first
 * step two's tags, import-sql.ts BATCH_HAS_TAGS): only their insert triggers count. GitLab's tag
 * triggers fire on update and delete, which run with the triggers on.
 */
export const INSERT_ONLY_BULK_TABLES: readonly string[] = ['tags'];

/** pg_trigger.tgtype bits (PostgreSQL's trigger.h). */
const TRIGGER_TYPE_INSERT = 1 << 2;
const TRIGGER_TYPE_UPDATE = 1 << 4;

const TRIGGERS = `
SELECT c.relname || '/' || t.tgname || '/' || p.proname AS name, t.tgenabled AS enabled, t.tgtype AS type
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
WHERE n.nspname = 'public' AND c.relname = ANY($1::text[]) AND NOT t.tgisinternal
ORDER BY 1`;

/** Pure: the reason the listed triggers rule set-based mode out, or null when they match. */
export function triggerMismatch(
  rows: readonly { name: string; enabled: string; type: number }[],
): string | null {
  const relevant = rows.filter((r) => {
    const table = r.name.slice(0, r.name.indexOf('/'));
    const kinds = INSERT_ONLY_BULK_TABLES.includes(table)
      ? TRIGGER_TYPE_INSERT
      : TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE;
    return (r.type & kinds) !== 0;
  });
  const special = relevant.find((r) => r.enabled === 'A' || r.enabled === 'R');
  if (special) return `trigger ${special.name} is enabled ALWAYS or REPLICA`;
  const found = new Set(relevant.filter((r) => r.enabled !== 'D').map((r) => r.name));
  const unknown = [...found].filter((n) => !EMULATED_TRIGGERS.includes(n));
  if (unknown.length > 0) return `unknown insert or update trigger(s): ${unknown.join(', ')}`;
  const missing = EMULATED_TRIGGERS.filter((n) => !found.has(n));
  if (missing.length > 0) return `expected trigger(s) missing or disabled: ${missing.join(', ')}`;
  return null;
}

/** Decides the mode on one pooled connection; `wanted` false forces GitLab's triggers. */
export async function chooseGcMode(pool: pg.Pool, wanted: boolean): Promise<GcModeChoice> {
  if (!wanted) return { mode: 'triggers', reason: null };
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ name: string; enabled: string; type: number }>(TRIGGERS, [
      [...BULK_TABLES, ...INSERT_ONLY_BULK_TABLES],
    ]);
    const mismatch = triggerMismatch(rows);
    if (mismatch !== null) return { mode: 'triggers', reason: mismatch };
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL session_replication_role = replica');
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      return {
        mode: 'triggers',
        reason: `the role may not set session_replication_role (SQLSTATE ${code}: ${(err as Error).message})`,
      };
    } finally {
      await client.query('ROLLBACK');
    }
    return { mode: 'set-based', reason: null };
  } finally {
    client.release();
  }
}
