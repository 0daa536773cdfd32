/**
 * The `database:` section (spec §4.5) as a zod schema, plus regdb's own keys `embedded` and
 * `embeddeddir`. Unknown keys are errors. Durations are Go durations, turned into milliseconds.
 */
import { z } from 'zod';
import { parseGoDuration } from './duration.js';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** Keys whose values are strings: they take the scalar's source text (see source.ts). */
export const DATABASE_STRING_PATHS: ReadonlySet<string> = new Set([
  'host',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'connecttimeout',
  'draintimeout',
  'primary',
  'embeddeddir',
  'pool.maxlifetime',
  'pool.maxidletime',
  'backgroundmigrations.jobinterval',
]);

const str = z.string({ error: 'must be a string' });

const duration = z.string({ error: 'must be a Go duration such as 5s or 1m30s' }).transform((s, ctx) => {
  const ms = parseGoDuration(s);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a Go duration such as 5s or 1m30s` });
    return z.NEVER;
  }
  return ms;
});

const bool = z.boolean({ error: 'must be true or false' });

const count = z
  .number({ error: 'must be a whole number' })
  .int({ error: 'must be a whole number' })
  .min(0, { error: 'must not be negative' });

const port = z
  .number({ error: 'must be a port number between 1 and 65535' })
  .int({ error: 'must be a port number between 1 and 65535' })
  .refine((p) => p >= 1 && p <= 65535, {
    error: (iss) => `port ${String(iss.input)} is out of range: use a port number between 1 and 65535`,
  });

const sslmode = z.enum(SSL_MODES, {
  error: (iss) =>
    `unknown sslmode ${typeof iss.input === 'string' ? `"${iss.input}"` : 'value'}: use one of ${SSL_MODES.join(', ')}`,
});

const freeForm = z.record(z.string(), z.unknown(), { error: 'must be a mapping' });

export const databaseSchema = z.strictObject(
  {
    enabled: z.union([bool, z.literal('prefer')], { error: 'must be true, false or prefer' }).optional(),
    host: str.optional(),
    port: port.optional(),
    user: str.optional(),
    password: str.optional(),
    dbname: str.optional(),
    sslmode: sslmode.optional(),
    sslcert: str.optional(),
    sslkey: str.optional(),
    sslrootcert: str.optional(),
    connecttimeout: duration.optional(),
    draintimeout: duration.optional(),
    preparedstatements: bool.optional(),
    primary: str.optional(),
    pool: z
      .strictObject(
        {
          maxidle: count.optional(),
          maxopen: count.optional(),
          maxlifetime: duration.optional(),
          maxidletime: duration.optional(),
        },
        { error: 'must be a mapping' },
      )
      .optional(),
    backgroundmigrations: z
      .strictObject(
        {
          enabled: bool.optional(),
          maxjobretries: count.optional(),
          jobinterval: duration.optional(),
        },
        { error: 'must be a mapping' },
      )
      .optional(),
    loadbalancing: freeForm.optional(),
    metrics: freeForm.optional(),
    embedded: bool.optional(),
    embeddeddir: str.optional(),
  },
  { error: 'must be a mapping' },
);

export type DatabaseSection = z.output<typeof databaseSchema>;

/** Keys that only make sense for a configured server, refused with `embedded: true`. */
export const SERVER_ONLY_KEYS = [
  'host',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'primary',
  'loadbalancing',
] as const;
