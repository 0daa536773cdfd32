#!/usr/bin/env bash
# The README's first run, as a new user does it (issue 11 §3): clone the repository into a fresh
# folder, `npm ci`, then the README's first import line, taken from README.md so the two cannot drift.
# Its config has no database: section, so nothing but the embedded PostgreSQL is in reach. The run must
# exit 0 and leave as many repositories, tags and blobs as the fixture tree holds (counted here with
# find, not by regdb); a second run must exit 0 and leave the same counts.
#
# mktemp -d makes a 0700 folder: as root this is the "clone under a closed home" case of issue 11 §4.
# Usage: scripts/first-run-check.sh [REPOSITORY]   (default: the repository this script is in)
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="$(mktemp -d)"
datadir=""
cleanup() {
  rm -rf "$work"
  # A data directory moved out of the closed folder (issue 11 §4) lives outside $work.
  case "$datadir" in /var/lib/regdb/*) rm -rf "$(dirname "$datadir")" ;; esac
}
trap cleanup EXIT

line="$(grep -m1 -E '^npx regdb database import ' "$repo/README.md" | sed -E 's/[[:space:]]+#.*$//')"
[ -n "$line" ] || { echo "first-run-check: no 'npx regdb database import' line in README.md" >&2; exit 1; }
echo "first-run-check: README's first import line: $line"

git clone --quiet "$repo" "$work/regdb"
cd "$work/regdb"
npm ci --no-audit --no-fund --loglevel=error

config="$(printf '%s\n' "$line" | awk '{print $NF}')"
if grep -qE '^database:' "$config"; then
  echo "first-run-check: $config has a database: section; the first run must use the embedded server" >&2
  exit 1
fi
root="$(dirname "$config")/$(sed -n -E 's/^[[:space:]]+rootdirectory:[[:space:]]*//p' "$config")"
v2="$root/docker/registry/v2"
want="repositories=$(find "$v2/repositories" -type d -name _manifests | wc -l)"
want="$want tags=$(find "$v2/repositories" -path '*/_manifests/tags/*/current/link' | wc -l)"
want="$want blobs=$(find "$v2/blobs" -type f -name data | wc -l)"

for run in 1 2; do
  set +e
  bash -c "$line" >"$work/out.$run" 2>"$work/err.$run"
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "first-run-check: run $run exited $status" >&2
    cat "$work/err.$run" >&2
    exit 1
  fi
  pwfile="$(sed -n -E 's/.*\(password in (.*)\)$/\1/p' "$work/err.$run" | head -1)"
  [ -n "$pwfile" ] || { echo "first-run-check: run $run did not say where the embedded data lives" >&2; cat "$work/err.$run" >&2; exit 1; }
  datadir="$(dirname "$pwfile")"
  got="$(node scripts/first-run-count.mjs "$datadir")"
  echo "first-run-check: run $run: exit 0, $got (fixture tree: $want)"
  case "$got" in
    "$want "*) ;;
    *) echo "first-run-check: run $run left other counts than the fixture tree holds" >&2; exit 1 ;;
  esac
  if [ "$run" = 1 ]; then first="$got"; elif [ "$got" != "$first" ]; then
    echo "first-run-check: the second run changed the counts ($first -> $got)" >&2
    exit 1
  fi
done
echo "first-run-check: ok"
