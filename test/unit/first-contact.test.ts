/**
 * Issue 11 §5 and §6, the pure parts: the config's `log:` section, where the import's detailed log
 * goes, and what a progress line says.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { defaultLogDirectory, importLogPath } from '../../src/cli/import-log.js';
import { formatProgress, progressFigures } from '../../src/cli/import-output.js';
import type { StepReport } from '../../src/importer/report.js';

const FILE = '/etc/regdb/config.yml';
const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfig(text, FILE, { env });

describe('the log: section', () => {
  it('takes the registry level and formatter names', () => {
    expect(parse('version: 0.1\n').log).toEqual({});
    expect(parse('version: 0.1\nlog:\n  level: debug\n  formatter: text\n').log).toEqual({
      level: 'debug',
      formatter: 'text',
    });
    // logrus names: warning, panic; logstash is JSON.
    expect(parse('version: 0.1\nlog:\n  level: warning\n  formatter: logstash\n').log).toEqual({
      level: 'warn',
      formatter: 'json',
    });
    expect(parse('version: 0.1\nlog:\n  level: panic\n  fields:\n    service: registry\n').log).toEqual({
      level: 'fatal',
    });
  });

  it('REGISTRY_LOG_LEVEL and REGISTRY_LOG_FORMATTER override the file', () => {
    const c = parse('version: 0.1\nlog:\n  level: debug\n', {
      REGISTRY_LOG_LEVEL: 'error',
      REGISTRY_LOG_FORMATTER: 'json',
    });
    expect(c.log).toEqual({ level: 'error', formatter: 'json' });
  });

  it('a bad value is a config error naming file and key', () => {
    const err = (() => {
      try {
        parse('version: 0.1\nlog:\n  formatter: xml\n');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${FILE}: log.formatter: "xml" is not one of text, json, logstash`);
  });
});

describe("the import's detailed log", () => {
  const started = new Date('2026-03-04T05:06:07.890Z');
  const embedded = parse('version: 0.1\n').database;
  const server = parse('version: 0.1\ndatabase:\n  host: db\n').database;

  it('is never put in the working directory by default', () => {
    expect(importLogPath(embedded, {}, started)).toBe(
      '/etc/regdb/.regdb/logs/2026-03-04T05:06:07Z-registry-import.log',
    );
    // Beside the data directory actually used (moved when root's postgres user cannot reach it).
    expect(defaultLogDirectory(embedded, '/var/lib/regdb/x-1/postgres')).toBe('/var/lib/regdb/x-1/logs');
    expect(importLogPath(server, {}, started, { XDG_STATE_HOME: '/state', HOME: '/h' })).toBe(
      '/state/regdb/logs/2026-03-04T05:06:07Z-registry-import.log',
    );
  });

  it('goes where the flags say: --log-to-stdout, the global --log-file, --log-directory', () => {
    expect(importLogPath(embedded, { logToStdout: true, logFile: '/x.log' }, started)).toBeUndefined();
    expect(importLogPath(embedded, { logFile: '/var/log/import.log', logDirectory: '/d' }, started)).toBe(
      '/var/log/import.log',
    );
    expect(importLogPath(server, { logDirectory: '/d' }, started)).toBe(
      '/d/2026-03-04T05:06:07Z-registry-import.log',
    );
  });
});

describe('progress lines', () => {
  const step = (over: Partial<StepReport>): StepReport => ({
    step: 1,
    startedAt: new Date(0),
    repositories: 0,
    tags: 0,
    manifests: 0,
    blobs: 0,
    blobBytes: 0n,
    checkpointed: 0,
    ...over,
  });

  it('steps one and two: percent of the counted repositories, tags/s, ETA at this pace', () => {
    // 50 of 200 repositories in 10 s, 1,000 tags: 150 left at 5/s = 30 s.
    const f = progressFigures(step({ tags: 1000 }), 50, 200, 0, 10_000);
    expect(formatProgress(f)).toBe(
      'step one: import manifests: 25% (50 of 200 repositories), 100.0 tags/s, 10s elapsed, ETA 30s',
    );
  });

  it('a resumed run: the pace counts only this run', () => {
    // 100 done before, 150 now after 10 s: 50 in 10 s, 50 left = 10 s.
    const f = progressFigures(step({ step: 2, tags: 400 }), 150, 200, 100, 10_000);
    expect(f.etaS).toBeCloseTo(10);
    expect(formatProgress(f)).toContain('step two: import tags: 75% (150 of 200 repositories)');
  });

  it('without a total (object stores): a count and a rate, no percent and no ETA', () => {
    const f = progressFigures(step({ tags: 30 }), 12, undefined, 0, 3_000);
    expect(formatProgress(f)).toBe('step one: import manifests: 12 repositories, 10.0 tags/s, 3s elapsed');
  });

  it('step three: blob prefixes finished of those listed (the last one met is still being read)', () => {
    const f = progressFigures(step({ step: 3, blobs: 6000 }), 65, 256, 0, 120_000);
    expect(formatProgress(f)).toBe(
      'step three: import blobs: 25% (64 of 256 blob prefixes), 50.0 blobs/s, 2m00s elapsed, ETA 6m00s',
    );
  });
});
