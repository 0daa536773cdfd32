/**
 * The regdb entry point as a process: help, exit statuses (0 ok, 2 usage/config, 1 runtime), one
 * `regdb: <message>` line for errors, and no secrets in help or errors.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const SECRET = 'Pa55-w0rd-that-must-not-leak';

describe('regdb CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regdb-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--help lists the database command group and exits 0; secrets in the environment stay hidden', async () => {
    const env = { REGISTRY_DATABASE_ADMIN_PASSWORD: SECRET, REGISTRY_DATABASE_PASSWORD: SECRET };
    const top = await runCli(['--help'], { env });
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: regdb \[options\] \[command\]/);
    expect(top.stdout).toMatch(/\n {2}database +manage the metadata database/);
    const init = await runCli(['database', 'init', '--help'], { env });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('--admin-password <password>');
    expect(init.stdout).toContain('env: REGISTRY_DATABASE_ADMIN_PASSWORD');
    expect(top.stdout + init.stdout + top.stderr + init.stderr).not.toContain(SECRET);
  });

  it('an unknown option or command is a usage error: exit 2', async () => {
    const opt = await runCli(['database', 'init', '--bogus']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toBe("error: unknown option '--bogus'\n");
    const cmd = await runCli(['database', 'frobnicate']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^error: unknown command 'frobnicate'/);
    const badPort = await runCli(['database', 'init', '--admin-port', 'abc', 'x.yml']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/option '--admin-port <port>' argument 'abc' is invalid/);
    const badLevel = await runCli(['--log-level', 'loud', 'database', 'init', 'x.yml']);
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toMatch(
      /^error: option '--log-level <level>' argument 'loud' is invalid\. Allowed choices are trace, /,
    );
  });

  it('no config path: "configuration path unspecified", exit 2', async () => {
    const res = await runCli(['database', 'init'], { env: { REGISTRY_CONFIGURATION_PATH: '' } });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      'regdb: configuration path unspecified: pass the config file as the last argument or set REGISTRY_CONFIGURATION_PATH\n',
    );
  });

  it('a missing config file names the file, exit 2; REGISTRY_CONFIGURATION_PATH is used without an argument', async () => {
    const missing = join(dir, 'absent.yml');
    const arg = await runCli(['database', 'init', missing]);
    expect(arg.code).toBe(2);
    expect(arg.stderr).toBe(`regdb: ${missing}: configuration file not found\n`);
    const env = await runCli(['database', 'init'], { env: { REGISTRY_CONFIGURATION_PATH: missing } });
    expect(env.code).toBe(2);
    expect(env.stderr).toBe(`regdb: ${missing}: configuration file not found\n`);
  });

  it('a bad config value is one line naming file and key, without the password, exit 2', async () => {
    const file = join(dir, 'bad.yml');
    await writeFile(file, `version: 0.1\ndatabase:\n  password: ${SECRET}\n  sslmode: sometimes\n`);
    const res = await runCli(['database', 'init', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      `regdb: ${file}: database.sslmode: unknown sslmode "sometimes": use one of disable, allow, prefer, require, verify-ca, verify-full\n`,
    );
  });

  it('a server that cannot be reached is a runtime failure: exit 1, no password in the message', async () => {
    const file = join(dir, 'unreachable.yml');
    await writeFile(
      file,
      `version: 0.1\ndatabase:\n  host: 127.0.0.1\n  port: 1\n  user: u\n  password: ${SECRET}\n  dbname: d\n  sslmode: disable\n`,
    );
    const res = await runCli(['--log-level', 'debug', 'database', 'init', file], {
      env: { REGISTRY_DATABASE_ADMIN_PASSWORD: SECRET },
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /regdb: cannot connect to PostgreSQL at 127\.0\.0\.1:1 \(database "postgres", user "postgres"\): .*ECONNREFUSED/,
    );
    expect(res.stderr + res.stdout).not.toContain(SECRET);
  });
});
