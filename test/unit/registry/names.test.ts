import { describe, expect, it } from 'vitest';
import { checkRepositoryName, topLevelNamespace } from '../../../src/registry/names.js';

describe('checkRepositoryName (reference grammar, spec §1.3)', () => {
  it.each([
    'a',
    'group/app',
    'group/app/sub',
    'b-nested/older/older',
    'a.b',
    'a_b',
    'a__b',
    'a-b',
    'a---b',
    'a1/2b/3c',
    'Foo/bar',
    'Upper.Example/app',
    'localhost:5000/app',
    'registry.example.com/group/app',
    'my-host/x',
  ])('accepts %s', (name) => {
    expect(checkRepositoryName(name)).toEqual({ ok: true });
  });

  it.each([
    ['Foo', 'Foo'],
    ['group/App', 'App'],
    ['Foo/Bar', 'Bar'],
    ['a___b', 'a___b'],
    ['a._b', 'a._b'],
    ['a..b', 'a..b'],
    ['-a', '-a'],
    ['a-', 'a-'],
    ['_a', '_a'],
    ['a:5000', 'a:5000'],
    ['foo-/bar', 'foo-'],
    ['group/a b', 'a b'],
  ])('rejects %s, naming the component %s', (name, component) => {
    const result = checkRepositoryName(name);
    expect(result).toEqual({
      ok: false,
      reason: 'invalid-format',
      message: `repository name ${JSON.stringify(name)} does not match the reference grammar: component ${JSON.stringify(component)}, which is not lowercase letters and digits joined by ".", "_", "__" or "-"`,
    });
  });

  it('rejects empty components', () => {
    for (const name of ['a//b', 'a/', '/a']) {
      expect(checkRepositoryName(name)).toEqual({
        ok: false,
        reason: 'invalid-format',
        message: `repository name ${JSON.stringify(name)} does not match the reference grammar: an empty component`,
      });
    }
  });

  it('rejects the empty name', () => {
    expect(checkRepositoryName('')).toEqual({
      ok: false,
      reason: 'empty',
      message: 'repository name is empty',
    });
  });

  it('allows 255 bytes and rejects 256, counting UTF-8 bytes', () => {
    expect(checkRepositoryName('a'.repeat(255))).toEqual({ ok: true });
    expect(checkRepositoryName(`${'a'.repeat(127)}/${'b'.repeat(127)}`)).toEqual({ ok: true });
    expect(checkRepositoryName('a'.repeat(256))).toMatchObject({
      ok: false,
      reason: 'too-long',
      message: expect.stringContaining('is 256 bytes long; at most 255 are allowed') as unknown,
    });
    expect(checkRepositoryName(`${'a'.repeat(254)}é`)).toMatchObject({ ok: false, reason: 'too-long' });
  });
});

describe('topLevelNamespace', () => {
  it('is the first path component', () => {
    expect(topLevelNamespace('group/app/sub')).toBe('group');
    expect(topLevelNamespace('app')).toBe('app');
    expect(topLevelNamespace('Upper.Example/app')).toBe('Upper.Example');
  });
});
