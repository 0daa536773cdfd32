import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputEofError, isYes, readAnswer, skipPostDeployment } from '../../src/cli/migrate.js';
import { UsageError } from '../../src/errors.js';

describe('skipPostDeployment', () => {
  it('is true with -s whatever the environment says', () => {
    expect(skipPostDeployment(true, { SKIP_POST_DEPLOYMENT_MIGRATIONS: 'false' })).toBe(true);
  });

  it('reads SKIP_POST_DEPLOYMENT_MIGRATIONS as Go strconv.ParseBool does when -s is absent', () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      expect(skipPostDeployment(undefined, { SKIP_POST_DEPLOYMENT_MIGRATIONS: v })).toBe(true);
    }
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False', '']) {
      expect(skipPostDeployment(undefined, { SKIP_POST_DEPLOYMENT_MIGRATIONS: v })).toBe(false);
    }
    expect(skipPostDeployment(undefined, {})).toBe(false);
  });

  it('rejects a value that is not a boolean, naming the variable', () => {
    expect(() => skipPostDeployment(undefined, { SKIP_POST_DEPLOYMENT_MIGRATIONS: 'yes' })).toThrow(
      UsageError,
    );
    expect(() => skipPostDeployment(undefined, { SKIP_POST_DEPLOYMENT_MIGRATIONS: 'yes' })).toThrow(
      'SKIP_POST_DEPLOYMENT_MIGRATIONS: "yes" is not a boolean (use true or false)',
    );
  });
});

describe('the down confirmation', () => {
  it('accepts only y and yes, in any case', () => {
    for (const a of ['y', 'Y', 'yes', 'YES', 'Yes']) expect(isYes(a)).toBe(true);
    for (const a of ['', 'n', 'no', 'yess', 'ye', 'sure', ' y']) expect(isYes(a)).toBe(false);
  });

  it('reads the first line, trimmed', async () => {
    await expect(readAnswer(Readable.from(['  yes \nmore\n']))).resolves.toBe('yes');
    await expect(readAnswer(Readable.from(['\n']))).resolves.toBe('');
    await expect(readAnswer(Readable.from(['y']))).resolves.toBe('y');
  });

  it('fails with "failed to scan user input: EOF" when input ends first', async () => {
    await expect(readAnswer(Readable.from([]))).rejects.toThrow(InputEofError);
    await expect(readAnswer(Readable.from([]))).rejects.toThrow('failed to scan user input: EOF');
  });
});
