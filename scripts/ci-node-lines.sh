#!/usr/bin/env bash
# Runs the unit suite and one import test (the oracle: an import of the real fixture compared with
# Debian's docker-registry serving it) on each supported Node LTS line, besides the machine's node.
# The Node binaries come from the npm registry (package node-linux-<arch>), installed once into
# $REGDB_NODE_CACHE (default /tmp/regdb-node) and reused by later runs.
#   scripts/ci-node-lines.sh [major ...]     (default: 22 24 26)
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${REGDB_NODE_CACHE:-/tmp/regdb-node}"
arch="$(node -p process.arch)"
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24 26)

for major in "${majors[@]}"; do
  dir="$cache/$major"
  bin="$dir/node_modules/node-linux-$arch/bin"
  if [ ! -x "$bin/node" ]; then
    npm install --prefix "$dir" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      "node-linux-$arch@$major"
  fi
  version="$("$bin/node" --version)"
  case "$version" in
    "v$major".*) ;;
    *) echo "ci-node-lines: $bin/node is $version, expected Node $major" >&2; exit 1 ;;
  esac
  echo "== Node $version: unit suite and the oracle import test"
  # vitest's workers and the CLI the tests start use process.execPath: this node.
  PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run --project unit
  PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run test/integration/oracle-real.test.ts
done
