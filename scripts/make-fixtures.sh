#!/usr/bin/env bash
# Regenerates fixtures/registries/real/: a storage tree written by a real registry (issue 3 §4).
#
# Installs Debian's docker-registry, skopeo and umoci when missing (needs root), starts the registry on
# 127.0.0.1 with filesystem storage in a temporary directory, builds small images with umoci, pushes
# them with skopeo (and, for lists, artifacts and referrers, with curl against the registry API), stops
# the registry and copies the storage tree into fixtures/registries/real/docker/.
#
# Deterministic: file times, config and history dates are fixed, so re-running gives the same digests.
# Usage: scripts/make-fixtures.sh [output-dir]   (default: fixtures/registries/real)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$REPO_ROOT/fixtures/registries/real}
CREATED=2024-01-02T03:04:05Z
TOUCH_DATE='2024-01-02 03:04:05 UTC'

install_tools() {
  local missing=()
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v umoci >/dev/null || missing+=(umoci)
  command -v jq >/dev/null || missing+=(jq)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    echo "installing ${missing[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}
install_tools

WORK=$(mktemp -d /tmp/regdb-fixtures.XXXXXX)
REGISTRY_PID=
cleanup() {
  if [[ -n $REGISTRY_PID ]]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
REG=http://127.0.0.1:$PORT
HOST=127.0.0.1:$PORT
mkdir -p "$WORK/storage"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/storage
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$REG/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$REG/v2/" >/dev/null || { cat "$WORK/registry.log" >&2; echo "registry did not start" >&2; exit 1; }

MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# upload_blob REPO FILE: monolithic upload (POST, then PUT with ?digest=); prints the digest.
upload_blob() {
  local repo=$1 file=$2 digest location sep
  digest=sha256:$(sha256_of "$file")
  location=$(curl -fsS -X POST -D - -o /dev/null "$REG/v2/$repo/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  [[ $location == http* ]] || location=$REG$location
  sep='?'; [[ $location == *\?* ]] && sep='&'
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$file" \
    -o /dev/null "$location${sep}digest=$digest"
  echo "$digest"
}

# put_manifest REPO REFERENCE MEDIA_TYPE FILE (REFERENCE is a tag or a digest)
put_manifest() {
  curl -fsS -X PUT -H "Content-Type: $3" --data-binary @"$4" -o /dev/null "$REG/v2/$1/manifests/$2"
}

# get_manifest REPO REFERENCE MEDIA_TYPE FILE: fetch the stored manifest bytes.
get_manifest() {
  curl -fsS -H "Accept: $3" -o "$4" "$REG/v2/$1/manifests/$2"
}

# push LAYOUT_TAG FORMAT REPO:TAG
push() {
  skopeo copy -q --dest-tls-verify=false --format "$2" "oci:$WORK/layout:$1" "docker://$HOST/$3"
}

# --- Images built with umoci --------------------------------------------------------------------
LAYOUT=$WORK/layout
umoci init --layout "$LAYOUT"

# make_content DIR FILE TEXT: a file with fixed times for a reproducible layer.
make_content() {
  mkdir -p "$1"
  printf '%s\n' "$3" >"$1/$2"
  touch -d "$TOUCH_DATE" "$1/$2" "$1"
}

# new_image TAG ARCH: an empty image with a fixed creation date and platform.
new_image() {
  umoci new --image "$LAYOUT:$1"
  umoci config --image "$LAYOUT:$1" --created "$CREATED" --architecture "$2" --os linux \
    --history.created "$CREATED" --history.created_by 'regdb make-fixtures: new image'
}

# add_layer TAG SOURCE TARGET: one layer holding SOURCE at TARGET.
add_layer() {
  umoci insert --image "$LAYOUT:$1" --history.created "$CREATED" \
    --history.created_by "regdb make-fixtures: insert $3" "$2" "$3"
}

make_content "$WORK/c/hello" hello.txt 'hello from the regdb fixtures'
make_content "$WORK/c/tool" tool.sh 'echo regdb tool'
make_content "$WORK/c/amd64" arch.txt 'built for amd64'
make_content "$WORK/c/arm64" arch.txt 'built for arm64'
make_content "$WORK/c/big" note.txt 'an image whose config blob is larger than 256000 bytes'

# app: one layer; pushed as OCI with three tags, and to a second repository (shared manifest).
new_image app amd64
add_layer app "$WORK/c/hello/hello.txt" /hello.txt
umoci config --image "$LAYOUT:app" --no-history --config.env APP=regdb --config.cmd /bin/sh \
  --config.label org.opencontainers.image.title=app

# sub: two layers; pushed as Docker schema 2.
new_image sub amd64
add_layer sub "$WORK/c/hello/hello.txt" /hello.txt
add_layer sub "$WORK/c/tool/tool.sh" /usr/local/bin/tool.sh
umoci config --image "$LAYOUT:sub" --no-history --config.entrypoint /usr/local/bin/tool.sh

# multi-arch children.
for arch in amd64 arm64; do
  new_image "$arch" "$arch"
  add_layer "$arch" "$WORK/c/$arch/arch.txt" /arch.txt
done

# big: labels make the config blob larger than the 256000-byte ConfigSizeLimit (spec §2.6).
new_image big amd64
add_layer big "$WORK/c/big/note.txt" /note.txt
label_args=()
for i in 1 2 3; do
  label_args+=(--config.label "org.example.padding$i=$(printf "%0100000d" 0 | tr 0 "$i")")
done
umoci config --image "$LAYOUT:big" --no-history "${label_args[@]}"

push app oci group/app:1.0
push app oci group/app:latest
push app oci group/app:stable
push app oci other/tool:shared
push sub v2s2 group/app/sub:v1
push big oci group/bigconfig:latest

# --- Multi-architecture lists (children pushed under temporary tags, removed from the tree) -------
# index_json MEDIA_TYPE CHILD_MEDIA_TYPE FILE_AMD64 FILE_ARM64
index_json() {
  jq -n --arg mt "$1" --arg cmt "$2" \
    --arg d1 "sha256:$(sha256_of "$3")" --argjson s1 "$(size_of "$3")" \
    --arg d2 "sha256:$(sha256_of "$4")" --argjson s2 "$(size_of "$4")" \
    '{schemaVersion: 2, mediaType: $mt, manifests: [
       {mediaType: $cmt, digest: $d1, size: $s1, platform: {architecture: "amd64", os: "linux"}},
       {mediaType: $cmt, digest: $d2, size: $s2, platform: {architecture: "arm64", os: "linux"}}]}'
}

for arch in amd64 arm64; do
  push "$arch" oci "group/multi:tmp-$arch"
  get_manifest group/multi "tmp-$arch" "$MT_OCI_MANIFEST" "$WORK/oci-$arch.json"
  push "$arch" v2s2 "group/multi/docker:tmp-$arch"
  get_manifest group/multi/docker "tmp-$arch" "$MT_DOCKER_MANIFEST" "$WORK/docker-$arch.json"
done
index_json "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$WORK/oci-amd64.json" "$WORK/oci-arm64.json" >"$WORK/oci-index.json"
put_manifest group/multi latest "$MT_OCI_INDEX" "$WORK/oci-index.json"
index_json "$MT_DOCKER_LIST" "$MT_DOCKER_MANIFEST" "$WORK/docker-amd64.json" "$WORK/docker-arm64.json" \
  >"$WORK/docker-list.json"
put_manifest group/multi/docker latest "$MT_DOCKER_LIST" "$WORK/docker-list.json"

# --- OCI artifact with a custom config media type (raw uploads) -----------------------------------
printf '{"rocket":"regdb","stages":2}' >"$WORK/rocket-config.json"
printf 'countdown: 3, 2, 1\n' >"$WORK/rocket-docs.txt"
rocket_config=$(upload_blob other/artifacts "$WORK/rocket-config.json")
rocket_docs=$(upload_blob other/artifacts "$WORK/rocket-docs.txt")
jq -n --arg cd "$rocket_config" --argjson cs "$(size_of "$WORK/rocket-config.json")" \
  --arg ld "$rocket_docs" --argjson ls "$(size_of "$WORK/rocket-docs.txt")" \
  '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.acme.rocket.config", digest: $cd, size: $cs},
    layers: [{mediaType: "application/vnd.acme.rocket.docs.layer.v1+tar", digest: $ld, size: $ls,
              annotations: {"org.opencontainers.image.title": "docs.txt"}}]}' >"$WORK/rocket.json"
put_manifest other/artifacts rocket-v1 "$MT_OCI_MANIFEST" "$WORK/rocket.json"

# --- A referrer (OCI 1.1 subject), pushed by digest only ------------------------------------------
get_manifest group/app 1.0 "$MT_OCI_MANIFEST" "$WORK/app.json"
printf '{}' >"$WORK/empty.json"
printf '{"spdxVersion":"SPDX-2.3","name":"group/app:1.0"}\n' >"$WORK/sbom.json"
empty_config=$(upload_blob group/app "$WORK/empty.json")
sbom=$(upload_blob group/app "$WORK/sbom.json")
jq -n --arg ed "$empty_config" --arg sd "$sbom" --argjson ss "$(size_of "$WORK/sbom.json")" \
  --arg subd "sha256:$(sha256_of "$WORK/app.json")" --argjson subs "$(size_of "$WORK/app.json")" \
  '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    artifactType: "application/spdx+json",
    config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $ed, size: 2},
    layers: [{mediaType: "application/spdx+json", digest: $sd, size: $ss}],
    subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $subd, size: $subs}}' \
  >"$WORK/referrer.json"
put_manifest group/app "sha256:$(sha256_of "$WORK/referrer.json")" "$MT_OCI_MANIFEST" "$WORK/referrer.json"

# --- Stop the registry and copy the tree ----------------------------------------------------------
kill "$REGISTRY_PID"
wait "$REGISTRY_PID" 2>/dev/null || true
REGISTRY_PID=

# The multi-arch children were pushed under temporary tags; removing the tag directories leaves the
# state of children pushed by digest (what `docker buildx` produces).
for repo in group/multi group/multi/docker; do
  rm -rf "$WORK/storage/docker/registry/v2/repositories/$repo/_manifests/tags/tmp-"*
done
# Finished uploads leave empty _uploads directories behind; git cannot keep them anyway.
find "$WORK/storage" -depth -type d -empty -delete

rm -rf "$OUT/docker"
mkdir -p "$OUT"
cp -a "$WORK/storage/docker" "$OUT/docker"
cat >"$OUT/config.yml" <<'EOF'
# Registry configuration for the fixture tree beside this file (relative paths resolve against this
# file's folder).
version: 0.1
storage:
  filesystem:
    rootdirectory: .
EOF

{
  echo "app-oci $(sha256_of "$WORK/app.json") $(size_of "$WORK/app.json")"
  echo "referrer $(sha256_of "$WORK/referrer.json") $(size_of "$WORK/referrer.json")"
  echo "rocket $(sha256_of "$WORK/rocket.json") $(size_of "$WORK/rocket.json")"
  echo "oci-index $(sha256_of "$WORK/oci-index.json") $(size_of "$WORK/oci-index.json")"
  echo "docker-list $(sha256_of "$WORK/docker-list.json") $(size_of "$WORK/docker-list.json")"
  for arch in amd64 arm64; do
    echo "oci-$arch $(sha256_of "$WORK/oci-$arch.json") $(size_of "$WORK/oci-$arch.json")"
    echo "docker-$arch $(sha256_of "$WORK/docker-$arch.json") $(size_of "$WORK/docker-$arch.json")"
  done
} >"$WORK/digests.txt"
cat "$WORK/digests.txt"
du -sh "$OUT"
echo "wrote $OUT; now run: npx tsx scripts/make-quirks.ts"
