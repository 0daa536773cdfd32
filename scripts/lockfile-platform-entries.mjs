// Adds package-lock.json entries for rollup's platform packages that the npm registry mirror of
// these machines does not serve (it 404s on them, so `npm install` leaves them out of the lock and
// `npm ci` then refuses the lock as out of sync). Each entry carries os/cpu/libc, so npm skips them
// on this platform without fetching. Run after any `npm install` that rewrites the lockfile:
//   node scripts/lockfile-platform-entries.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(file, 'utf8'));
const rollupPkg = JSON.parse(readFileSync('node_modules/rollup/package.json', 'utf8'));
const cpus = { 'arm-eabi': 'arm' };
let added = 0;
for (const [name, version] of Object.entries(rollupPkg.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const m = /^@rollup\/rollup-([a-z0-9]+)-(.+?)(?:-(gnu|musl|msvc|gnueabihf|musleabihf))?$/.exec(name);
  if (!m) throw new Error(`cannot derive the platform of ${name}`);
  const [, os, cpu, abi] = m;
  const entry = { version, cpu: [cpus[cpu] ?? cpu], dev: true, license: 'MIT', optional: true, os: [os] };
  if (abi?.startsWith('gnu')) entry.libc = ['glibc'];
  if (abi?.startsWith('musl')) entry.libc = ['musl'];
  lock.packages[key] = entry;
  added++;
}
const keys = Object.keys(lock.packages).sort((a, b) =>
  a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0,
);
lock.packages = Object.fromEntries(keys.map((k) => [k, lock.packages[k]]));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} platform entries to ${file}`);
