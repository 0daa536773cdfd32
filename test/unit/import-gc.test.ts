import { describe, expect, it } from 'vitest';
import { EMULATED_TRIGGERS, triggerMismatch } from '../../src/db/import-gc.js';

const INSERT = 1 << 2;
const UPDATE = 1 << 4;
const DELETE = 1 << 3;
const ROW = 1;
const known = EMULATED_TRIGGERS.map((name) => ({ name, enabled: 'O', type: ROW | INSERT }));

describe('triggerMismatch', () => {
  it('accepts exactly the emulated triggers, whatever delete triggers exist', () => {
    expect(triggerMismatch(known)).toBeNull();
    expect(
      triggerMismatch([
        ...known,
        { name: 'layers/gc_track_deleted_layers_trigger/f', enabled: 'O', type: DELETE },
      ]),
    ).toBeNull();
  });

  it('refuses an unknown insert or update trigger', () => {
    expect(triggerMismatch([...known, { name: 'layers/x/y', enabled: 'O', type: ROW | UPDATE }])).toBe(
      'unknown insert or update trigger(s): layers/x/y',
    );
  });

  it('counts only insert triggers on tags, which are only inserted with the triggers off', () => {
    const switched = { name: 'tags/gc_track_switched_tags_trigger/gc_track_switched_tags', enabled: 'O' };
    expect(triggerMismatch([...known, { ...switched, type: ROW | UPDATE }])).toBeNull();
    expect(triggerMismatch([...known, { name: 'tags/audit/f', enabled: 'O', type: ROW | INSERT }])).toBe(
      'unknown insert or update trigger(s): tags/audit/f',
    );
  });

  it('refuses a missing or disabled emulated trigger', () => {
    const [first, ...rest] = known;
    expect(triggerMismatch(rest)).toBe(`expected trigger(s) missing or disabled: ${first!.name}`);
    expect(triggerMismatch([{ ...first!, enabled: 'D' }, ...rest])).toBe(
      `expected trigger(s) missing or disabled: ${first!.name}`,
    );
  });

  it('refuses a trigger that fires in replica mode too', () => {
    const [first, ...rest] = known;
    for (const enabled of ['A', 'R']) {
      expect(triggerMismatch([{ ...first!, enabled }, ...rest])).toBe(
        `trigger ${first!.name} is enabled ALWAYS or REPLICA`,
      );
    }
  });
});
