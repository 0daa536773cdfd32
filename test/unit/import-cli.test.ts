import { describe, expect, it } from 'vitest';
import {
  checkTagConcurrency,
  logFileName,
  parseBool,
  parseGoDuration,
  selectedSteps,
} from '../../src/cli/import-flags.js';
import { copyField, copyLine, copyChunks } from '../../src/db/copy-text.js';
import { inShard, parseShard, shardOf } from '../../src/importer/shard.js';
import { blobPrefix } from '../../src/importer/blobs-step.js';
import { UsageError } from '../../src/errors.js';

describe('import flags (spec §4.3)', () => {
  it('selects steps and rejects combinations with GitLab messages, in order', () => {
    expect(selectedSteps({})).toEqual([1, 2, 3]);
    expect(selectedSteps({ preImport: true })).toEqual([1]);
    expect(selectedSteps({ allRepositories: true })).toEqual([2]);
    expect(selectedSteps({ commonBlobs: true })).toEqual([3]);
    expect(() => selectedSteps({ preImport: true, commonBlobs: true })).toThrow(
      "steps two or three can't be used with step one",
    );
    expect(() => selectedSteps({ preImport: true, allRepositories: true, commonBlobs: true })).toThrow(
      "steps two or three can't be used with step one",
    );
    expect(() => selectedSteps({ allRepositories: true, commonBlobs: true })).toThrow(
      "step three can't be used with step two",
    );
    expect(() => selectedSteps({ allRepositories: true, commonBlobs: true })).toThrow(UsageError);
  });

  it('tag concurrency is 1 by default and must be 1-5', () => {
    expect(checkTagConcurrency(undefined)).toBe(1);
    expect(checkTagConcurrency(5)).toBe(5);
    expect(() => checkTagConcurrency(0)).toThrow('tag-concurrency must be between 1 and 5');
    expect(() => checkTagConcurrency(6)).toThrow('tag-concurrency must be between 1 and 5');
  });

  it('parses Go durations and booleans', () => {
    expect(parseGoDuration('72h')).toBe(72 * 3_600_000);
    expect(parseGoDuration('1h30m')).toBe(90 * 60_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('0')).toBe(0);
    expect(() => parseGoDuration('3 days')).toThrow('time: invalid duration "3 days"');
    expect(() => parseGoDuration('')).toThrow();
    expect(parseBool('false')).toBe(false);
    expect(parseBool('T')).toBe(true);
    expect(() => parseBool('nope')).toThrow();
  });

  it('names the log file <RFC3339 time>-registry-import.log', () => {
    expect(logFileName(new Date('2026-03-04T05:06:07.891Z'))).toBe(
      '2026-03-04T05:06:07Z-registry-import.log',
    );
  });
});

describe('COPY text encoding', () => {
  it('escapes text, writes NULL, bytea hex, booleans, bigint and dates', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField('a\tb\nc\\d\re')).toBe('a\\tb\\nc\\\\d\\re');
    expect(copyField(Buffer.from([1, 0xab]))).toBe('\\\\x01ab');
    expect(copyField(true)).toBe('t');
    expect(copyField(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(copyField(new Date('2026-01-01T00:00:00Z'))).toBe('2026-01-01T00:00:00.000Z');
    expect(copyLine(['x', null, 1])).toBe('x\t\\N\t1\n');
  });

  it('gathers rows into large chunks', () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => i);
    const chunks = [...copyChunks(rows, (i) => ['row-' + 'x'.repeat(40), i])];
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.length).toBeLessThan(5);
    expect(Buffer.concat(chunks).toString().split('\n')).toHaveLength(40_001);
  });
});

describe('--shard I/N', () => {
  it('parses and validates', () => {
    expect(parseShard('1/3')).toEqual({ index: 1, count: 3 });
    expect(() => parseShard('3/3')).toThrow(UsageError);
    expect(() => parseShard('a/b')).toThrow('invalid --shard "a/b"');
  });

  it('spreads namespaces over shards, each in exactly one', () => {
    const seen = [0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const ns = `ns${i}`;
      const owners = [0, 1, 2].filter((index) => inShard(ns, { index, count: 3 }));
      expect(owners).toHaveLength(1);
      seen[shardOf(ns, 3)]!++;
    }
    for (const n of seen) expect(n).toBeGreaterThan(60);
    expect(inShard('anything', null)).toBe(true);
  });

  it('blob prefixes are <alg>/<xx>', () => {
    expect(blobPrefix('/docker/registry/v2/blobs/sha256/ab/abcd/data')).toBe('sha256/ab');
  });
});
