/**
 * The root logger redacts secrets wherever they sit in the logged object, and library code's
 * default logger writes nothing.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/log.js';

const SECRET = 'Hunter2-s3cr3t!';

function capture(level = 'info') {
  const lines: string[] = [];
  const logger = createLogger({ level, destination: { stream: { write: (s: string) => lines.push(s) } } });
  return { logger, lines };
}

describe('createLogger', () => {
  it('redacts passwords, secret keys and credentials at any of the first levels', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        password: SECRET,
        database: { host: 'db', password: SECRET, pool: { password: SECRET } },
        storage: { s3: { accesskey: SECRET, secretkey: SECRET, sessiontoken: SECRET, bucket: 'b' } },
        gcs: { credentials: { private_key: SECRET } },
        adminPassword: SECRET,
      },
      'connecting',
    );
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line).not.toContain(SECRET);
    const obj = JSON.parse(line) as {
      msg: string;
      database: { host: string; password: string };
      storage: { s3: { bucket: string; secretkey: string } };
      gcs: { credentials: unknown };
    };
    expect(obj.msg).toBe('connecting');
    expect(obj.database.host).toBe('db');
    expect(obj.database.password).toBe('[REDACTED]');
    expect(obj.storage.s3.bucket).toBe('b');
    expect(obj.storage.s3.secretkey).toBe('[REDACTED]');
    expect(obj.gcs.credentials).toBe('[REDACTED]');
  });

  it('honours the level and rejects unknown levels', () => {
    const { logger, lines } = capture('warn');
    logger.info('hidden');
    logger.warn({ step: 'x' }, 'shown');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown']);
    expect(() => createLogger({ level: 'loud' })).toThrow(/^unknown log level "loud"/);
  });

  it('silentLogger is disabled', () => {
    expect(silentLogger.isLevelEnabled('fatal')).toBe(false);
  });
});
