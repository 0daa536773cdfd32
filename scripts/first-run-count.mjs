// Counts rows in an embedded regdb database after a run has stopped its server, for
// scripts/first-run-check.sh: starts the server of DATA_DIR again through the built regdb (dist/), the
// way `regdb` does, counts with plain SQL, prints "repositories=N tags=N blobs=N manifests=N", stops it.
// Plain JavaScript on purpose: it runs in a fresh clone with nothing but `npm ci` done.
import pg from 'pg';
import { startEmbedded } from '../dist/src/db/embedded.js';

const dataDir = process.argv[2];
if (dataDir === undefined) {
  process.stderr.write('usage: node scripts/first-run-count.mjs DATA_DIR\n');
  process.exit(2);
}
const server = await startEmbedded({
  kind: 'embedded',
  dataDir,
  port: 0,
  user: 'regdb',
  password: '',
  dbname: 'registry',
  pool: {},
});
let code = 0;
try {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.dbname,
  });
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
