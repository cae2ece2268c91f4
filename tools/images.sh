#!/usr/bin/env bash
# Builds every image slipway runs, locally and without pulling from any registry:
#   base stand-ins for official images (Debian trixie packages) and the project images.
# Idempotent: each image carries a `slipway.recipe` label (hash of its inputs); an image whose
# label matches is skipped, so a warm run takes seconds. Progress goes to stderr; stdout carries
# only KEY=ref lines, so `eval "$(bash tools/images.sh)"` works.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/images.sh [options]

Builds (skipping images whose recipe is unchanged):
  slipway-local/debian:trixie   debootstrap --variant=minbase trixie, docker import
  slipway-local/node:20         Debian nodejs + npm, user node (uid 1000)      images/local/node
  slipway-local/postgres:17     Debian postgresql-17, official-image interface  images/local/postgres
  slipway-local/haproxy:3.0     Debian haproxy, official-image paths            images/local/haproxy
  slipway-local/prometheus:2    Debian prometheus (+ promtool), official paths  images/local/prometheus
  slipway-local/pushgateway:1   Debian prometheus-pushgateway + busybox wget    images/local/pushgateway
  slipway-local/alertmanager:0  Debian prometheus-alertmanager + busybox wget   images/local/alertmanager
  slipway/api:<tag>             docker-bake.hcl target prod   (images/api/Dockerfile) with TEST_ROUTES=true:
                                the test image, with the test-only GET|POST /slow the e2e tests and benchmarks use
  slipway/api:<tag>-abrupt      docker-bake.hcl target abrupt (prod, SHUTDOWN_MODE=abrupt: test-only, exits at once on SIGTERM)
  slipway/edge:<tag>            docker-bake.hcl target edge   (images/edge/Dockerfile: HAProxy + socat)
  slipway/postgres:17-pgbackrest docker-bake.hcl target postgres (images/postgres: + pgBackRest, backup.wal)
  Each also tagged sha-<full git sha> (with --tag T: sha-T), e.g. slipway/api:sha-<sha>-abrupt.
  Targets, build args and tags come from docker-bake.hcl (read by tools/bake.ts: no buildx here).

Options:
  --tag T            tag for project images (default: git rev-parse --short=12 HEAD)
  --api-version V    APP_VERSION baked into the api images (default: the tag)
  --base-only        build only the slipway-local/* images
  --force            rebuild even when the recipe label matches
  --mirror URL       Debian mirror (default: http://deb.debian.org/debian)
  --ca-dir DIR       extra trusted CA certificates (*.crt) copied into slipway-local/debian, so images
                     that install ca-certificates trust e.g. a TLS-intercepting egress proxy
                     (default: /usr/local/share/ca-certificates, the host's own extra CAs)
  -h, --help         this text

Output (stdout), one per line:
  DEBIAN_IMAGE= NODE_IMAGE= POSTGRES_IMAGE= HAPROXY_IMAGE= PROMETHEUS_IMAGE= PUSHGATEWAY_IMAGE= ALERTMANAGER_IMAGE=
  API_IMAGE= API_ABRUPT_IMAGE= EDGE_IMAGE= POSTGRES_WAL_IMAGE=
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="" API_VERSION="" BASE_ONLY=0 FORCE=0 MIRROR="http://deb.debian.org/debian" CA_DIR=/usr/local/share/ca-certificates
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --api-version) API_VERSION="$2"; shift 2 ;;
    --base-only) BASE_ONLY=1; shift ;;
    --force) FORCE=1; shift ;;
    --mirror) MIRROR="$2"; shift 2 ;;
    --ca-dir) CA_DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "images.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# The legacy builder: this engine (20.10) has no buildx plugin next to the client.
export DOCKER_BUILDKIT=0
START=$SECONDS
log() { printf '[images +%3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# One build at a time per host: parallel test files may all call this script.
exec 9>"${TMPDIR:-/tmp}/slipway-images.lock"
flock 9 || die "could not take the build lock"

docker info >/dev/null 2>&1 || die "Docker engine not reachable (DOCKER_HOST=${DOCKER_HOST:-unset}); start dockerd first"

label_of() { docker image inspect -f '{{index .Config.Labels "slipway.recipe"}}' "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1"; }
# Hash of the given strings plus every file under the given paths (names and contents).
recipe_hash() {
  local item
  {
    for item in "$@"; do
      if [ -e "$ROOT/$item" ]; then
        (cd "$ROOT" && find "$item" -type f -print0 | sort -z | xargs -0 sha256sum)
      else
        printf '%s\n' "$item"
      fi
    done
  } | sha256sum | cut -c1-16
}
# docker_build REF [docker build args...]: full output to a log file, its tail shown on failure.
docker_build() {
  local ref="$1"; shift
  local logf="${TMPDIR:-/tmp}/slipway-images.${ref//[:\/]/_}.log" t0=$SECONDS
  if ! docker build -t "$ref" "$@" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2
    die "$ref: docker build failed (full log: $logf)"
  fi
  log "$ref built in $((SECONDS - t0))s"
}
up_to_date() { [ "$FORCE" = 0 ] && [ "$(label_of "$1")" = "$2" ]; }

build_debian() {
  local ref="slipway-local/debian:trixie"
  local cas; cas="$(cat "$CA_DIR"/*.crt 2>/dev/null | sha256sum)"
  local hash; hash="$(recipe_hash "debootstrap --variant=minbase trixie $MIRROR" "v3" "extra CAs $cas")"
  if up_to_date "$ref" "$hash"; then log "$ref up to date ($hash)"; return; fi
  command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get update -qq && apt-get install -y -qq debootstrap >&2; }
  local dir; dir="$(mktemp -d /tmp/slipway-rootfs.XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" EXIT
  log "$ref: debootstrap trixie into $dir (takes a few minutes)"
  local logf="${TMPDIR:-/tmp}/slipway-images.debootstrap.log"
  if ! debootstrap --variant=minbase trixie "$dir" "$MIRROR" >"$logf" 2>&1; then
    tail -n 30 "$logf" >&2; cp "$dir/debootstrap/debootstrap.log" "$logf.detail" 2>/dev/null || true
    die "debootstrap failed (log: $logf)"
  fi
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/debootstrap
  # Trust what the host trusts; ca-certificates' postinst picks these up in images that install it.
  if compgen -G "$CA_DIR/*.crt" >/dev/null; then
    mkdir -p "$dir/usr/local/share/ca-certificates" && cp "$CA_DIR"/*.crt "$dir/usr/local/share/ca-certificates/"
    log "$ref: added extra CA certificates from $CA_DIR"
  fi
  # Containers have no init; never start services from package postinst scripts.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d" && chmod +x "$dir/usr/sbin/policy-rc.d"
  log "$ref: importing"
  tar -C "$dir" -c . | docker import \
    --change "LABEL slipway.recipe=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$ref" >/dev/null
  rm -rf "$dir"; trap - EXIT
  log "$ref built"
}

# build_local REF CONTEXT_DIR: a base image built from its own directory, keyed by that dir + the parent.
build_local() {
  local ref="$1" dir="$2"
  local hash; hash="$(recipe_hash "$(image_id slipway-local/debian:trixie)" "$dir")"
  if up_to_date "$ref" "$hash"; then log "$ref up to date ($hash)"; return; fi
  log "$ref: building from $dir"
  docker_build "$ref" --network host --label "slipway.recipe=$hash" \
    --build-arg BASE_IMAGE=slipway-local/debian:trixie "$ROOT/$dir"
}

# bake_build TARGET REF PARENT_REF "INPUT PATHS": a project image built from the repo root with the docker build
# arguments (Dockerfile, --target, build args, tags) of TARGET in docker-bake.hcl, read by tools/bake.ts —
# that file is the one description of targets and tags, for CI's `docker buildx bake` and for this legacy
# builder alike. REF (what stdout reports) must be the target's first tag. Keyed by the parent image, the
# resolved arguments and the repository paths the Dockerfile copies; an up-to-date image is re-tagged only.
bake_build() {
  local target="$1" ref="$2" parent="$3" inputs; read -ra inputs <<<"$4"
  local argf; argf="$(mktemp "${TMPDIR:-/tmp}/slipway-bake.XXXXXX")"
  if ! (cd "$ROOT" && node --import tsx tools/bake.ts --build-args "$target" "${BAKE_SET[@]}") >"$argf"; then
    rm -f "$argf"; die "docker-bake.hcl: could not resolve target $target (tools/bake.ts)"
  fi
  local args=() tags=() untagged=() i
  mapfile -d '' args <"$argf"; rm -f "$argf"
  for ((i = 0; i < ${#args[@]}; i++)); do
    if [ "${args[i]}" = -t ]; then tags+=("${args[i + 1]}"); i=$((i + 1)); else untagged+=("${args[i]}"); fi
  done
  [ "${tags[0]:-}" = "$ref" ] || die "docker-bake.hcl: target $target's first tag is '${tags[0]:-none}', expected $ref"
  # Tags are not part of the recipe: the same inputs under a new tag are the same image.
  local hash; hash="$(recipe_hash "$(image_id "$parent")" "${untagged[*]//"$ROOT"/.}" .dockerignore docker-bake.hcl "${inputs[@]}")"
  if up_to_date "$ref" "$hash"; then
    for i in "${tags[@]:1}"; do docker tag "$ref" "$i"; done
    log "$ref up to date ($hash)"; return
  fi
  log "$ref: building bake target $target"
  docker_build "$ref" --network host --label "slipway.recipe=$hash" "${args[@]}"
}

build_debian
build_local slipway-local/node:20 images/local/node
build_local slipway-local/postgres:17 images/local/postgres
build_local slipway-local/haproxy:3.0 images/local/haproxy
build_local slipway-local/prometheus:2 images/local/prometheus
build_local slipway-local/pushgateway:1 images/local/pushgateway
build_local slipway-local/alertmanager:0 images/local/alertmanager
echo "DEBIAN_IMAGE=slipway-local/debian:trixie"
echo "NODE_IMAGE=slipway-local/node:20"
echo "POSTGRES_IMAGE=slipway-local/postgres:17"
echo "HAPROXY_IMAGE=slipway-local/haproxy:3.0"
echo "PROMETHEUS_IMAGE=slipway-local/prometheus:2"
echo "PUSHGATEWAY_IMAGE=slipway-local/pushgateway:1"
echo "ALERTMANAGER_IMAGE=slipway-local/alertmanager:0"
if [ "$BASE_ONLY" = 1 ]; then log "done (base only)"; exit 0; fi

# The sha-<git sha> tags: the commit's full SHA, or with --tag T, T itself (so a custom tag never moves
# the commit's sha- tag).
if [ -n "$TAG" ]; then GIT_SHA="$TAG"; else TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD)"; GIT_SHA="$(git -C "$ROOT" rev-parse HEAD)"; fi
[ -n "$API_VERSION" ] || API_VERSION="$TAG"
BAKE_SET=(--set "TAG=$TAG" --set "GIT_SHA=$GIT_SHA" --set "APP_VERSION=$API_VERSION" --set API_REPO=slipway/api
  --set EDGE_REPO=slipway/edge --set NODE_IMAGE=slipway-local/node:20 --set HAPROXY_IMAGE=slipway-local/haproxy:3.0
  --set POSTGRES_REPO=slipway/postgres --set POSTGRES_IMAGE=slipway-local/postgres:17
  --set TEST_ROUTES=true)   # test images: the e2e tests and benchmarks hold requests open with /slow
API_INPUTS="package.json package-lock.json tsconfig.json src/api images/api"
bake_build prod "slipway/api:$TAG" slipway-local/node:20 "$API_INPUTS"
bake_build abrupt "slipway/api:$TAG-abrupt" slipway-local/node:20 "$API_INPUTS"
bake_build edge "slipway/edge:$TAG" slipway-local/haproxy:3.0 images/edge
bake_build postgres slipway/postgres:17-pgbackrest slipway-local/postgres:17 images/postgres
echo "API_IMAGE=slipway/api:$TAG"
echo "API_ABRUPT_IMAGE=slipway/api:$TAG-abrupt"
echo "EDGE_IMAGE=slipway/edge:$TAG"
echo "POSTGRES_WAL_IMAGE=slipway/postgres:17-pgbackrest"
log "done"
