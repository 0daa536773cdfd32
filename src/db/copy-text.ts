/**
 * COPY … FROM STDIN text-format encoding: one line per row, tab-separated, `\N` for NULL, and the
 * backslash escapes COPY interprets (PostgreSQL docs, "COPY: Text Format"). Rows are gathered into
 * large chunks so the stream does one write per ~1 MiB, not one per row.
 */

export type CopyValue = string | bigint | number | boolean | Buffer | Date | null;

/** Text value escaped for COPY: backslash, newline, carriage return and tab. */
function escapeText(s: string): string {
  if (!/[\\\n\r\t]/.test(s)) return s;
  return s.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

export function copyField(v: CopyValue): string {
  if (v === null) return '\\N';
  if (typeof v === 'string') return escapeText(v);
  if (typeof v === 'bigint' || typeof v === 'number') return v.toString();
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (v instanceof Date) return v.toISOString();
  // bytea hex input `\x…`; the backslash itself is escaped for COPY.
  return '\\\\x' + v.toString('hex');
}

export function copyLine(values: readonly CopyValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    line += copyField(values[i]!);
  }
  return line + '\n';
}

const CHUNK_BYTES = 1 << 20;

/** Lines of `rows` gathered into ~1 MiB buffers, for `pipeline(Readable.from(…), copyFrom(…))`. */
export function* copyChunks<T>(
  rows: Iterable<T>,
  toValues: (row: T) => readonly CopyValue[],
): Generator<Buffer> {
  let parts: string[] = [];
  let size = 0;
  for (const row of rows) {
    const line = copyLine(toValues(row));
    parts.push(line);
    size += line.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.from(parts.join(''), 'utf8');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield Buffer.from(parts.join(''), 'utf8');
}
