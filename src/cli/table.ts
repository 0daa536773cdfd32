/**
 * A table as tablewriter v1.1.1 renders it by default (spec §4.2 `status`): light box drawing,
 * one space of padding, header upper-cased and centred (extra space on the right), rows
 * left-aligned, no lines between rows.
 */

/** Display width: one column per code point (our cells are IDs and timestamps). */
function width(s: string): number {
  return [...s].length;
}

function padRight(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - width(s)));
}

function center(s: string, w: number): string {
  const gap = Math.max(0, w - width(s));
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) =>
    Math.max(width(h.toUpperCase()), ...rows.map((r) => width(r[i] ?? ''))),
  );
  const rule = (l: string, m: string, r: string): string =>
    l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r;
  const line = (cells: string[]): string => '│' + cells.map((c) => ` ${c} `).join('│') + '│';
  const out = [
    rule('┌', '┬', '┐'),
    line(header.map((h, i) => center(h.toUpperCase(), widths[i] ?? 0))),
    rule('├', '┼', '┤'),
    ...rows.map((r) => line(widths.map((w, i) => padRight(r[i] ?? '', w)))),
    rule('└', '┴', '┘'),
  ];
  return out.join('\n') + '\n';
}
