import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/cli/table.js';

describe('renderTable (tablewriter v1.1.1 defaults)', () => {
  it('draws a light box, centres the upper-cased header and left-aligns rows', () => {
    expect(
      renderTable(
        ['Migration', 'Applied'],
        [
          ['20260101000000_regdb_baseline', '2026-01-01 00:00:00.5 +0000 UTC'],
          ['20260201000000_regdb_next', ''],
        ],
      ),
    ).toBe(
      [
        '┌───────────────────────────────┬─────────────────────────────────┐',
        '│           MIGRATION           │             APPLIED             │',
        '├───────────────────────────────┼─────────────────────────────────┤',
        '│ 20260101000000_regdb_baseline │ 2026-01-01 00:00:00.5 +0000 UTC │',
        '│ 20260201000000_regdb_next     │                                 │',
        '└───────────────────────────────┴─────────────────────────────────┘',
        '',
      ].join('\n'),
    );
  });

  it('puts the odd space of a centred header on the right and widens to the header', () => {
    expect(renderTable(['Migration', 'Applied'], [['abcdefghij', '']])).toBe(
      [
        '┌────────────┬─────────┐',
        '│ MIGRATION  │ APPLIED │',
        '├────────────┼─────────┤',
        '│ abcdefghij │         │',
        '└────────────┴─────────┘',
        '',
      ].join('\n'),
    );
  });
});
