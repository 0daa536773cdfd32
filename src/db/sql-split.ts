/**
 * Splits SQL text into statements at top-level semicolons, for migrations that run without a
 * transaction (each statement then commits on its own). A small lexer, so that semicolons inside
 * quoted literals, quoted identifiers, comments and dollar-quoted bodies (DO blocks, function
 * bodies) do not split. The trailing `;` of each statement is dropped, as sql-migrate does
 * (spec §3.5); comment-only pieces are dropped.
 */

/** `$tag$` opener at `i`, or undefined (`$1` parameters and identifiers ending in `$` are not). */
function dollarTag(sql: string, i: number): string | undefined {
  const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64));
  return m?.[0];
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/** Does the text contain anything but whitespace and comments? */
function hasCode(text: string): boolean {
  return stripComments(text).trim() !== '';
}

function stripComments(text: string): string {
  return text.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

export function splitSqlStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number): void => {
    const text = sql.slice(start, end).trim();
    if (hasCode(text)) statements.push(text);
  };
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? sql.length : eol + 1;
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith('/*', i)) {
          depth += 1;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
    } else if (c === "'" || c === '"') {
      // E'...' strings allow backslash escapes; '' and "" are escaped quotes in both kinds.
      const backslash = c === "'" && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !isIdentChar(sql[i - 2]);
      i += 1;
      while (i < sql.length) {
        if (backslash && sql[i] === '\\') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) {
          i += 1;
          break;
        } else i += 1;
      }
    } else if (c === '$' && !isIdentChar(sql[i - 1]) && dollarTag(sql, i) !== undefined) {
      const tag = dollarTag(sql, i) as string;
      const end = sql.indexOf(tag, i + tag.length);
      i = end === -1 ? sql.length : end + tag.length;
    } else if (c === ';') {
      push(i);
      i += 1;
      start = i;
    } else i += 1;
  }
  push(sql.length);
  return statements;
}
