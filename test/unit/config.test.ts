/**
 * config.yml parsing (spec §4.1, §4.5): every error is one line naming the file and the key, env
 * overrides, path resolution, defaults, the embedded default, and secrets never in messages.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, resolveConfigPath } from '../../src/config/load.js';
import { ConfigError, exitCodeOf } from '../../src/errors.js';

const FILE = '/etc/regdb/config.yml';
const SECRET = 'Hunter2-s3cr3t!';

const SERVER = `version: 0.1
database:
  host: db.internal
  port: 5433
  user: registry
  password: ${SECRET}
  dbname: registry_prod
  sslmode: verify-full
  sslcert: certs/client.crt
  sslkey: /abs/client.key
  sslrootcert: certs/ca.crt
  connecttimeout: 5s
  draintimeout: 2m
  preparedstatements: false
  primary: primary.internal
  enabled: prefer
  pool:
    maxidle: 5
    maxopen: 20
    maxlifetime: 1h30m
    maxidletime: 300s
  backgroundmigrations:
    enabled: true
    maxjobretries: 3
    jobinterval: 1m
  loadbalancing:
    enabled: false
    hosts: [a, b]
  metrics:
    enabled: true
    interval: 10s
storage:
  s3:
    accesskey: AKIA
    secretkey: ${SECRET}
    region: us-east-1
    regionendpoint: http://127.0.0.1:9000
    bucket: registry
    rootdirectory: /prefix
    pathstyle: true
  maintenance:
    uploadpurging:
      enabled: false
  delete:
    enabled: true
http:
  addr: :5000
log:
  level: info
`;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).not.toContain('\n');
    expect(e.message).not.toContain(SECRET);
    expect(exitCodeOf(e)).toBe(2);
    return e;
  }
  throw new Error('expected a ConfigError');
}

const parse = (text: string, env: NodeJS.ProcessEnv = {}, requireStorage = false) =>
  parseConfig(text, FILE, { env, requireStorage });

describe('a full server configuration', () => {
  it('becomes a typed config with resolved paths and milliseconds', () => {
    const c = parse(SERVER);
    expect(c.path).toBe(FILE);
    expect(c.dir).toBe('/etc/regdb');
    expect(c.database).toEqual({
      kind: 'server',
      host: 'db.internal',
      port: 5433,
      user: 'registry',
      password: SECRET,
      dbname: 'registry_prod',
      sslmode: 'verify-full',
      sslcert: '/etc/regdb/certs/client.crt',
      sslkey: '/abs/client.key',
      sslrootcert: '/etc/regdb/certs/ca.crt',
      connectTimeoutMs: 5000,
      primary: 'primary.internal',
      pool: { maxIdle: 5, maxOpen: 20, maxLifetimeMs: 5_400_000, maxIdleTimeMs: 300_000 },
    });
    expect(c.storage).toEqual({
      driver: 's3',
      key: 's3',
      parameters: {
        accesskey: 'AKIA',
        secretkey: SECRET,
        region: 'us-east-1',
        regionendpoint: 'http://127.0.0.1:9000',
        bucket: 'registry',
        rootdirectory: '/prefix',
        pathstyle: true,
      },
    });
  });

  it('applies defaults for a minimal database section', () => {
    const c = parse('version: 0.1\ndatabase:\n  user: u\n');
    expect(c.database).toEqual({
      kind: 'server',
      host: 'localhost',
      port: 5432,
      user: 'u',
      sslmode: 'prefer',
      connectTimeoutMs: 0,
      pool: {},
    });
    expect(c.storage).toBeUndefined();
  });

  it('keeps string values as written (password: 0123 is "0123", not 83 or 123)', () => {
    const c = parse('version: 0.1\ndatabase:\n  password: 0123\n  user: 42\n  dbname: true\n');
    expect(c.database).toMatchObject({ password: '0123', user: '42', dbname: 'true' });
  });

  it('accepts version given as a string', () => {
    expect(parse('version: "0.1"\n').database.kind).toBe('embedded');
  });
});

describe('the embedded default', () => {
  it('no database section: embedded, data in .regdb/postgres beside the config', () => {
    const c = parse('version: 0.1\n');
    expect(c.database).toEqual({
      kind: 'embedded',
      dataDir: '/etc/regdb/.regdb/postgres',
      dataDirIsDefault: true,
      port: 0,
      user: 'regdb',
      password: '',
      dbname: 'registry',
      pool: {},
    });
  });

  it('embedded: true with a relative embeddeddir, port and dbname', () => {
    const c = parse(
      'version: 0.1\ndatabase:\n  embedded: true\n  embeddeddir: pg/data\n  port: 6000\n  dbname: reg\n',
    );
    expect(c.database).toMatchObject({
      kind: 'embedded',
      dataDir: '/etc/regdb/pg/data',
      dataDirIsDefault: false,
      port: 6000,
      dbname: 'reg',
    });
  });

  it('embedded: true with a server-only key is refused', () => {
    const e = errorOf(() => parse('version: 0.1\ndatabase:\n  embedded: true\n  host: db\n'));
    expect(e.message).toBe(
      `${FILE}: database.host: cannot be used with "embedded: true" (regdb runs its own PostgreSQL)`,
    );
  });

  it('embeddeddir without embedded: true is refused', () => {
    const e = errorOf(() => parse('version: 0.1\ndatabase:\n  host: db\n  embeddeddir: x\n'));
    expect(e.message).toBe(`${FILE}: database.embeddeddir: is only used with "embedded: true"`);
  });
});

describe('configuration errors name the file and the key', () => {
  it('invalid YAML (position only, never the source line)', () => {
    const e = errorOf(() => parse(`version: 0.1\ndatabase:\n  password: ${SECRET}\n  host: [a\n`));
    expect(e.message).toMatch(new RegExp(`^${FILE}: invalid YAML: .*line \\d+, column \\d+`));
  });

  it('duplicate keys are invalid YAML', () => {
    const e = errorOf(() => parse('version: 0.1\nversion: 0.1\n'));
    expect(e.message).toMatch(/^\/etc\/regdb\/config.yml: invalid YAML: Map keys must be unique at line 2/);
  });

  it('empty file', () => {
    expect(errorOf(() => parse('')).message).toBe(
      `${FILE}: the configuration is empty; it must start with "version: 0.1"`,
    );
  });

  it('missing version', () => {
    expect(errorOf(() => parse('database:\n  host: x\n')).message).toBe(
      `${FILE}: version: missing; the configuration must start with "version: 0.1"`,
    );
  });

  it('wrong version', () => {
    expect(errorOf(() => parse('version: 0.2\n')).message).toBe(
      `${FILE}: version: "0.2" is not supported: use "version: 0.1"`,
    );
  });

  it('wrong type of a key', () => {
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  port: five\n')).message).toBe(
      `${FILE}: database.port: must be a port number between 1 and 65535`,
    );
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  pool:\n    maxopen: [1]\n')).message).toBe(
      `${FILE}: database.pool.maxopen: must be a whole number`,
    );
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  preparedstatements: maybe\n')).message).toBe(
      `${FILE}: database.preparedstatements: must be true or false`,
    );
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  connecttimeout: 5\n')).message).toBe(
      `${FILE}: database.connecttimeout: "5" is not a Go duration such as 5s or 1m30s`,
    );
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  pool: 3\n')).message).toBe(
      `${FILE}: database.pool: must be a mapping`,
    );
  });

  it('a password of the wrong type is named, not shown', () => {
    const e = errorOf(() => parse(`version: 0.1\ndatabase:\n  password:\n    nested: ${SECRET}\n`));
    expect(e.message).toBe(`${FILE}: database.password: must be a string`);
  });

  it('unknown key', () => {
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  hostname: x\n')).message).toBe(
      `${FILE}: database.hostname: unknown key`,
    );
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  pool:\n    size: 3\n')).message).toBe(
      `${FILE}: database.pool.size: unknown key`,
    );
  });

  it('port out of range', () => {
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  port: 70000\n')).message).toBe(
      `${FILE}: database.port: port 70000 is out of range: use a port number between 1 and 65535`,
    );
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  port: 0\n')).message).toContain(
      'port 0 is out of range',
    );
  });

  it('unknown sslmode', () => {
    expect(errorOf(() => parse('version: 0.1\ndatabase:\n  sslmode: verify\n')).message).toBe(
      `${FILE}: database.sslmode: unknown sslmode "verify": use one of disable, allow, prefer, require, verify-ca, verify-full`,
    );
  });

  it('two storage drivers', () => {
    const text = 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /r\n  gcs:\n    bucket: b\n';
    expect(errorOf(() => parse(text)).message).toBe(
      `${FILE}: storage: exactly one storage driver must be configured, found 2: filesystem, gcs`,
    );
  });

  it('no storage when the command needs one', () => {
    expect(errorOf(() => parse('version: 0.1\n', {}, true)).message).toBe(
      `${FILE}: storage: no storage configuration provided`,
    );
  });

  it('an unsupported driver is an error only for commands that read storage', () => {
    const text = 'version: 0.1\nstorage:\n  azure:\n    accountname: a\n';
    expect(parse(text).storage).toBeUndefined();
    expect(errorOf(() => parse(text, {}, true)).message).toBe(
      `${FILE}: storage.azure: unsupported storage driver: regdb reads filesystem, s3, s3aws, s3_v2 and gcs`,
    );
  });

  it('unknown or mistyped storage parameters, missing required ones', () => {
    expect(
      errorOf(() => parse('version: 0.1\nstorage:\n  s3:\n    bucket: b\n    region: r\n    bukket: x\n'))
        .message,
    ).toMatch(
      /^\/etc\/regdb\/config.yml: storage.s3.bukket: unknown s3 storage parameter; known parameters: accesskey, /,
    );
    expect(
      errorOf(() => parse('version: 0.1\nstorage:\n  gcs:\n    bucket: b\n    parallelwalk: sometimes\n'))
        .message,
    ).toBe(`${FILE}: storage.gcs.parallelwalk: must be true or false`);
    expect(errorOf(() => parse('version: 0.1\nstorage:\n  s3_v2:\n    region: r\n')).message).toBe(
      `${FILE}: storage.s3_v2.bucket: required s3_v2 storage parameter is missing`,
    );
  });
});

describe('storage section', () => {
  it('filesystem: relative rootdirectory resolves against the config folder; default /var/lib/registry', () => {
    expect(parse('version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ./data\n').storage).toEqual({
      driver: 'filesystem',
      key: 'filesystem',
      parameters: { rootdirectory: '/etc/regdb/data' },
    });
    expect(parse('version: 0.1\nstorage:\n  filesystem:\n').storage?.parameters).toEqual({
      rootdirectory: '/var/lib/registry',
    });
  });

  it('keys are case-insensitive and stored lower-cased; s3aws and s3_v2 are s3', () => {
    const c = parse(
      'version: 0.1\nstorage:\n  S3AWS:\n    Bucket: b\n    REGION: r\n    ParallelWalk: "true"\n',
    );
    expect(c.storage).toEqual({
      driver: 's3',
      key: 's3aws',
      parameters: { bucket: 'b', region: 'r', parallelwalk: true },
    });
    expect(parse('version: 0.1\nstorage:\n  s3_v2:\n    bucket: b\n    region: r\n').storage?.key).toBe(
      's3_v2',
    );
  });

  it('gcs keyfile resolves against the config folder; rootdirectory stays a key prefix', () => {
    const c = parse(
      'version: 0.1\nstorage:\n  gcs:\n    bucket: b\n    keyfile: key.json\n    rootdirectory: reg\n',
    );
    expect(c.storage?.parameters).toEqual({
      bucket: 'b',
      keyfile: '/etc/regdb/key.json',
      rootdirectory: 'reg',
    });
  });
});

describe('environment overrides', () => {
  it('REGISTRY_DATABASE_<KEY>, nested with _, values YAML-decoded', () => {
    const c = parse(SERVER, {
      REGISTRY_DATABASE_HOST: 'other.internal',
      REGISTRY_DATABASE_PORT: '6432',
      REGISTRY_DATABASE_POOL_MAXOPEN: '3',
      REGISTRY_DATABASE_CONNECTTIMEOUT: '250ms',
      REGISTRY_DATABASE_SSLMODE: 'disable',
      REGISTRY_DATABASE_PASSWORD: '007',
    });
    expect(c.database).toMatchObject({
      host: 'other.internal',
      port: 6432,
      sslmode: 'disable',
      connectTimeoutMs: 250,
      password: '007',
      pool: { maxOpen: 3, maxIdle: 5 },
    });
  });

  it('REGISTRY_DATABASE_* creates the section: a server config instead of the embedded default', () => {
    const c = parse('version: 0.1\n', { REGISTRY_DATABASE_HOST: 'h', REGISTRY_DATABASE_USER: 'u' });
    expect(c.database).toMatchObject({ kind: 'server', host: 'h', user: 'u', port: 5432 });
  });

  it('REGISTRY_DATABASE_ADMIN_* belongs to database init, not to the config', () => {
    const c = parse('version: 0.1\ndatabase:\n  host: h\n', { REGISTRY_DATABASE_ADMIN_PASSWORD: SECRET });
    expect(JSON.stringify(c)).not.toContain(SECRET);
  });

  it('REGISTRY_STORAGE_<DRIVER>_<PARAM>: case-insensitive, lower-cased, s3_v2 and checksum_disabled', () => {
    const c = parse(SERVER, {
      REGISTRY_STORAGE_S3_BUCKET: 'other-bucket',
      REGISTRY_STORAGE_S3_PARALLELWALK: 'true',
      REGISTRY_STORAGE_S3_CHECKSUM_DISABLED: 'true',
      REGISTRY_STORAGE_S3_MAXRETRIES: '9',
      REGISTRY_STORAGE_S3_SECRETKEY: '0099',
      REGISTRY_STORAGE_DELETE_ENABLED: 'false',
    });
    expect(c.storage?.parameters).toMatchObject({
      bucket: 'other-bucket',
      parallelwalk: true,
      checksum_disabled: true,
      maxretries: 9,
      secretkey: '0099',
    });
    const v2 = parse('version: 0.1\nstorage:\n  s3_v2:\n    region: r\n', {
      REGISTRY_STORAGE_S3_V2_BUCKET: 'b2',
    });
    expect(v2.storage?.parameters).toEqual({ region: 'r', bucket: 'b2' });
  });

  it('REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY overrides and resolves relative to the config', () => {
    const c = parse('version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /a\n', {
      REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: 'rel/dir',
    });
    expect(c.storage?.parameters).toEqual({ rootdirectory: '/etc/regdb/rel/dir' });
  });

  it('variables are applied in name order (the later, more specific one wins)', () => {
    const c = parse('version: 0.1\ndatabase:\n  host: h\n', {
      REGISTRY_DATABASE_POOL_MAXOPEN: '7',
      REGISTRY_DATABASE_POOL: '{maxopen: 2, maxidle: 1}',
    });
    expect(c.database.pool).toEqual({ maxOpen: 7, maxIdle: 1 });
  });

  it('errors caused by a variable name the variable', () => {
    expect(errorOf(() => parse(SERVER, { REGISTRY_DATABASE_PORT: '99999' })).message).toBe(
      `${FILE}: database.port: port 99999 is out of range: use a port number between 1 and 65535 (set by REGISTRY_DATABASE_PORT)`,
    );
    expect(errorOf(() => parse(SERVER, { REGISTRY_DATABASE_SSLMOD: 'x' })).message).toBe(
      `${FILE}: database.sslmod: unknown key (set by REGISTRY_DATABASE_SSLMOD)`,
    );
    expect(errorOf(() => parse(SERVER, { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/r' })).message).toBe(
      `${FILE}: storage: exactly one storage driver must be configured, found 2: s3, filesystem`,
    );
    expect(errorOf(() => parse(SERVER, { REGISTRY_STORAGE_AZURE_ACCOUNTNAME: 'a' })).message).toBe(
      `${FILE}: REGISTRY_STORAGE_AZURE_ACCOUNTNAME: names no storage driver or section (use REGISTRY_STORAGE_<DRIVER>_<PARAM>)`,
    );
    expect(errorOf(() => parse(SERVER, { REGISTRY_DATABASE_PASSWORD: `[${SECRET}]` })).message).toBe(
      `${FILE}: database.password: must be a string (set by REGISTRY_DATABASE_PASSWORD)`,
    );
  });
});

describe('resolveConfigPath', () => {
  it('the argument wins over REGISTRY_CONFIGURATION_PATH; relative paths become absolute', () => {
    expect(resolveConfigPath('/a/config.yml', { REGISTRY_CONFIGURATION_PATH: '/b/config.yml' })).toBe(
      '/a/config.yml',
    );
    expect(resolveConfigPath(undefined, { REGISTRY_CONFIGURATION_PATH: '/b/config.yml' })).toBe(
      '/b/config.yml',
    );
    expect(resolveConfigPath('rel.yml', {})).toBe(`${process.cwd()}/rel.yml`);
  });

  it('neither: "configuration path unspecified"', () => {
    const e = errorOf(() => resolveConfigPath(undefined, {}));
    expect(e.message).toMatch(/^configuration path unspecified/);
  });
});
