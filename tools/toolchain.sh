#!/usr/bin/env bash
# Provision everything slipway needs on this machine, reusing what is already there:
#   1. a Docker engine (Debian's docker.io; dockerd started in the background if none answers), and the
#      Debian tools the tests use (promtool, rclone, sshd, openssl, ip),
#   2. node_modules (npm ci, when package-lock.json changed),
#   3. the Pulumi CLI and pulumi-language-nodejs, built from Go modules (see tools/toolchain/README.md),
#      plus the pulumi-resource-pulumi-nodejs launcher for dynamic providers,
#   4. the provider plugins at exactly the versions the npm packages request,
#   5. actionlint, built from its Go module (checks .github/workflows in npm run test:toolchain),
#   6. the local images (tools/images.sh), unless --no-images.
# Finished binaries are cached in $SLIPWAY_CACHE (default ~/.cache/slipway) keyed by version and
# by a hash of the wrapper module, so a warm run only checks. Everything is built to a temporary
# path and moved into place only on success.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash tools/toolchain.sh [--no-images] [--no-docker] [--check]

  --no-images   skip building the local Docker images (tools/images.sh)
  --no-docker   do not install or start a Docker engine (no images either)
  --check       build nothing; print what is present and exit non-zero if anything is missing

Afterwards:  . tools/env.sh   (PATH, PULUMI_HOME, file backend, passphrase)
EOF
}

images=1 docker_wanted=1 check_only=0
for arg in "$@"; do
  case "$arg" in
    --no-images) images=0 ;;
    --no-docker) docker_wanted=0; images=0 ;;
    --check) check_only=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "toolchain: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/env.sh
. "$here/env.sh"
# shellcheck source=tools/toolchain/versions.sh
. "$here/toolchain/versions.sh"
root=$SLIPWAY_ROOT
bin=$root/.slipway/toolchain/bin
cache=$SLIPWAY_CACHE/toolchain
mkdir -p "$bin" "$cache" "$root/.slipway/logs"
started=$(date +%s)
missing=0

step() { printf '[toolchain %4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
die() { printf 'toolchain: %s\n' "$*" >&2; exit 1; }

# --- 1. Docker engine -------------------------------------------------------------------------
ensure_docker() {
  if docker info >/dev/null 2>&1; then
    step "docker: engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null)), reusing it"
    return
  fi
  if [ "$check_only" = 1 ]; then step "docker: MISSING (no engine answers)"; missing=1; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "no Docker engine answers and dockerd is not installed; as root run: apt-get install docker.io"
    step "docker: installing Debian's docker.io"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io) \
      >"$root/.slipway/logs/apt-docker.log" 2>&1 \
      || die "apt-get install docker.io failed; see .slipway/logs/apt-docker.log"
  fi
  if [ -S /var/run/docker.sock ] && ! docker info >/dev/null 2>&1 && pgrep -x dockerd >/dev/null; then
    die "a dockerd is running but does not answer to $(id -un): check permissions on /var/run/docker.sock (add the user to the docker group)"
  fi
  [ "$(id -u)" = 0 ] || die "no Docker engine answers; start one (as root: dockerd &) or set DOCKER_HOST"
  step "docker: starting dockerd (log: .slipway/logs/dockerd.log)"
  nohup dockerd >"$root/.slipway/logs/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { step "docker: engine up"; return; }
    sleep 1
  done
  die "dockerd did not answer within 60 s; see .slipway/logs/dockerd.log"
}

# --- 1b. Debian tools the tests and verbs use -------------------------------------------------------
# promtool (alert-rule tests), rclone (off-host backup copies), sshd/ssh (the SFTP target and the remote Docker
# host the tests start), openssl (test certificates), ip (network namespaces). Installed when missing; services
# that a package would start (sshd, prometheus) are kept from starting: the tests start their own.
DEBIAN_TOOLS="promtool:prometheus rclone:rclone sshd:openssh-server ssh:openssh-client openssl:openssl ip:iproute2"
ensure_debian_tools() {
  local wanted="" pair
  for pair in $DEBIAN_TOOLS; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || wanted="$wanted ${pair#*:}"
  done
  if [ -z "$wanted" ]; then step "debian tools: present"; return; fi
  if [ "$check_only" = 1 ]; then step "debian tools: MISSING$wanted"; missing=1; return; fi
  [ "$(id -u)" = 0 ] || die "missing Debian packages:$wanted; as root run: apt-get install$wanted"
  step "debian tools: installing$wanted"
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [ -e "$policy" ] && had_policy=1
  [ "$had_policy" = 1 ] || printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy" 2>/dev/null || true
  local rc=0
  # shellcheck disable=SC2086
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $wanted) \
    >"$root/.slipway/logs/apt-tools.log" 2>&1 || rc=$?
  [ "$had_policy" = 1 ] || rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install$wanted failed; see .slipway/logs/apt-tools.log"
}

# --- 2. node_modules ----------------------------------------------------------------------------
ensure_node_modules() {
  command -v node >/dev/null || die "node is not on PATH; install Node.js 20 (apt-get install nodejs npm)"
  local stamp=$root/node_modules/.slipway-lock-hash want
  want=$(sha256sum "$root/package-lock.json" | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    step "npm: node_modules match package-lock.json"
    return
  fi
  if [ "$check_only" = 1 ]; then step "npm: MISSING or stale node_modules"; missing=1; return; fi
  step "npm: npm ci"
  (cd "$root" && npm ci --no-audit --no-fund >"$root/.slipway/logs/npm-ci.log" 2>&1) \
    || die "npm ci failed; see .slipway/logs/npm-ci.log"
  echo "$want" >"$stamp"
}

# --- 3. Go-built binaries ----------------------------------------------------------------------
require_go() {
  command -v go >/dev/null 2>&1 || die "Go >= $GO_MIN_VERSION is needed to build the Pulumi engine from modules; install it (https://go.dev/doc/install) and put it on PATH"
  local have
  have=$(go env GOVERSION | sed 's/^go//')
  [ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$have" | sort -V | head -1)" = "$GO_MIN_VERSION" ] \
    || die "Go $have is too old; Go >= $GO_MIN_VERSION is needed"
  [ "$(go env GOPROXY)" != "off" ] || die "GOPROXY is off; the engine is built from modules through a Go module proxy"
}

# hash of a wrapper module (all its files) and of any extra files that shape the build
module_hash() {
  local dir=$1; shift
  { (cd "$dir" && find . -type f ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum); [ $# -eq 0 ] || cat "$@"; } \
    | sha256sum | cut -c1-12
}

# build_cached NAME DEST_IN_BIN KEY BUILD_FUNCTION: reuse $cache/NAME-KEY or build it there atomically
build_cached() {
  local name=$1 key=$2 fn=$3 cached=$cache/$1-$2
  if [ ! -x "$cached" ]; then
    if [ "$check_only" = 1 ]; then step "$name: MISSING (not built for $key)"; missing=1; return; fi
    require_go
    local tmp t0
    tmp=$(mktemp "$cache/.$name.XXXXXX")
    t0=$(date +%s)
    step "$name: building ($key) — cold builds take minutes on 2 cores; log: .slipway/logs/build-$name.log"
    if ! "$fn" "$tmp" >"$root/.slipway/logs/build-$name.log" 2>&1; then
      rm -f "$tmp"
      tail -n 20 "$root/.slipway/logs/build-$name.log" >&2
      die "building $name ($key) failed; see .slipway/logs/build-$name.log"
    fi
    chmod +x "$tmp" && mv "$tmp" "$cached"
    step "$name: built in $(( $(date +%s) - t0 ))s"
  fi
  install -m 0755 "$cached" "$bin/.$name.tmp" && mv "$bin/.$name.tmp" "$bin/$name"
}

go_build() { # go_build OUT MODULE_DIR PACKAGE LDFLAGS [TAGS]
  (cd "$2" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath ${5:+-tags "$5"} -ldflags "$4" -o "$1" "$3")
}
build_pulumi() {
  go_build "$1" "$here/toolchain/go/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" osusergo,grpcnotrace
}
build_language_host() {
  go_build "$1" "$here/toolchain/go/language-nodejs" . "-s -w -X main.version=$PULUMI_VERSION"
}

ensure_engine() {
  local sdk
  sdk=$(node -p "require('$root/node_modules/@pulumi/pulumi/package.json').version" 2>/dev/null || echo none)
  [ "$sdk" = "$PULUMI_VERSION" ] || [ "$check_only" = 1 ] \
    || die "@pulumi/pulumi in node_modules is $sdk but the engine is pinned to $PULUMI_VERSION (tools/toolchain/versions.sh); keep them equal"
  local ambient
  ambient=$(command -v pulumi 2>/dev/null || true)
  if [ -n "$ambient" ] && [ "$ambient" != "$bin/pulumi" ] && [ "$("$ambient" version 2>/dev/null)" = "v$PULUMI_VERSION" ]; then
    step "pulumi: using $ambient (v$PULUMI_VERSION)"
    ln -sf "$ambient" "$bin/pulumi"
  else
    build_cached pulumi "v$PULUMI_VERSION-$(module_hash "$here/toolchain/go/pulumi")" build_pulumi
  fi
  build_cached pulumi-language-nodejs "v$PULUMI_VERSION-$(module_hash "$here/toolchain/go/language-nodejs")" build_language_host
  install -m 0755 "$here/toolchain/bin/pulumi-resource-pulumi-nodejs" "$bin/pulumi-resource-pulumi-nodejs"
  [ -x "$bin/pulumi" ] && step "pulumi: $("$bin/pulumi" version), language host $("$bin/pulumi-language-nodejs" -version)"
}

# --- 4. provider plugins -----------------------------------------------------------------------
ensure_plugins() {
  local name version dir
  while read -r name version; do
    dir=$PULUMI_HOME/plugins/resource-$name-v$version
    local key
    key="v$version-$(module_hash "$here/toolchain/go/$name" "$here/toolchain/build-plugin.sh")"
    # the key file says which build of the wrapper module is registered
    if [ -x "$dir/pulumi-resource-$name" ] && [ "$(cat "$dir/.slipway-build" 2>/dev/null)" = "$key" ]; then
      step "plugin $name v$version: installed ($key)"
      continue
    fi
    if [ "$check_only" = 1 ]; then step "plugin $name v$version: MISSING or stale"; missing=1; continue; fi
    plugin_to_build=$name # build_cached has its own $name; the build function reads this one
    build_one_plugin() { bash "$here/toolchain/build-plugin.sh" "$plugin_to_build" "$1"; }
    build_cached "pulumi-resource-$name" "$key" build_one_plugin
    "$bin/pulumi" plugin install resource "$name" "$version" --file "$bin/pulumi-resource-$name" --reinstall >/dev/null \
      || die "pulumi plugin install resource $name $version failed"
    rm -f "$bin/pulumi-resource-$name" # the engine must find it in the plugin cache, at its exact version
    echo "$key" >"$dir/.slipway-build"
    step "plugin $name v$version: registered"
  done < <(node -e '
    for (const p of ["command", "random", "docker"]) {
      const pkg = require(process.argv[1] + "/node_modules/@pulumi/" + p + "/package.json");
      console.log(pkg.pulumi.name || p, pkg.pulumi.version || pkg.version);
    }' "$root")
}

# --- 5. actionlint (checks .github/workflows; test/toolchain/actionlint.test.ts runs it) ----------------
ACTIONLINT_VERSION=v1.7.12
build_actionlint() {
  local gobin rc=0
  gobin=$(mktemp -d)
  GOBIN=$gobin CGO_ENABLED=0 GOFLAGS= go install -trimpath \
    -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" && mv "$gobin/actionlint" "$1" || rc=$?
  rm -rf "$gobin"
  return "$rc"
}
ensure_actionlint() {
  build_cached actionlint "$ACTIONLINT_VERSION" build_actionlint
  if [ -x "$bin/actionlint" ]; then step "actionlint: $("$bin/actionlint" -version | head -1)"; fi
}

ensure_docker_if_wanted() { [ "$docker_wanted" = 1 ] && ensure_docker || step "docker: skipped (--no-docker)"; }

ensure_docker_if_wanted
ensure_debian_tools
ensure_node_modules
ensure_engine
ensure_plugins
ensure_actionlint
if [ "$images" = 1 ] && [ "$check_only" = 0 ]; then
  step "images: tools/images.sh"
  bash "$here/images.sh"
fi
if [ "$check_only" = 1 ] && [ "$missing" = 1 ]; then
  step "incomplete: run bash tools/toolchain.sh"
  exit 1
fi
step "ready. In a shell: . tools/env.sh"
