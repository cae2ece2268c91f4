#!/usr/bin/env bash
# Builds one Pulumi resource provider plugin (command|random|docker) from Go modules
# fetched through the module proxy, using the wrapper modules in tools/toolchain/go/<name>.
# Usage: tools/toolchain/build-plugin.sh NAME OUTFILE
# The binary is built in a temp dir and moved to OUTFILE only on success. What each plugin
# is built from (and where it deviates from upstream) is in tools/toolchain/PLUGINS.md.
# Uses the caller's GOMODCACHE/GOCACHE (shared caches); needs only the Go module proxy.
set -euo pipefail

usage() { echo "usage: $0 command|random|docker OUTFILE" >&2; exit 2; }
[ $# -eq 2 ] || usage
name=$1
out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Plugin versions = the `pulumi.version` of the pinned npm packages (package.json).
case $name in
  command) version=1.2.1; vflag="-X main.Version=$version"; tags="" ;;
  random) version=4.21.1; vflag="-X slipway.local/toolchain/random/info.Version=$version"; tags="" ;;
  docker) version=5.0.0; vflag="-X slipway.local/toolchain/docker/info.Version=$version"; tags="no_compose" ;;
  *) usage ;;
esac

SECONDS=0
log() { echo "[build-plugin $name +${SECONDS}s] $*"; }

export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
# go.sum pins these; they are replaced by releases that may be absent from the checksum DB.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/pulumi/pulumi-dotnet,github.com/pulumi/pulumi-yaml"
ldflags="-s -w $vflag"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/build-plugin-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Work on a copy so generated files (schema) never land in the repository.
cp -R "$here/go/$name" "$tmp/src"
cd "$tmp/src"

# Runs a go step; on failure prints one line naming the module@version that failed.
step() {
  local what=$1; shift
  log "$what"
  if ! "$@" >"$tmp/step.log" 2>&1; then
    local mv
    mv=$(grep -oE '[a-z0-9.-]+\.[a-z]{2,}/[A-Za-z0-9._/~-]+@v[0-9][A-Za-z0-9.+-]*' "$tmp/step.log" | head -n1 || true)
    [ -n "$mv" ] || mv="$(sed -n 's/^module //p' go.mod) (wrapper tools/toolchain/go/$name)"
    cp "$tmp/step.log" "${TMPDIR:-/tmp}/build-plugin-$name.log"
    echo "build-plugin: $name FAILED at '$what' in module $mv: $(grep -m1 -E 'error|cannot|40[34]|not available|undefined' "$tmp/step.log" || tail -n1 "$tmp/step.log") (full log: ${TMPDIR:-/tmp}/build-plugin-$name.log)" >&2
    exit 1
  fi
}

gobuild() { go build -trimpath ${tags:+-tags "$tags"} -ldflags "$ldflags" "$@"; }

if [ "$name" = command ]; then
  step "go build pulumi-resource-command $version" gobuild -o "$tmp/plugin" .
else
  gen=cmd/pulumi-resource-$name
  # The provider embeds these; placeholders let the generator package list compile.
  echo '{}' >"$gen/schema.json"; echo '{}' >"$gen/bridge-metadata.json"
  step "go build schema generator pulumi-tfgen-$name" gobuild -o "$tmp/tfgen" "./cmd/pulumi-tfgen-$name"
  mkdir -p "$tmp/schema"
  step "generate schema (tfgen schema)" "$tmp/tfgen" schema --out "$tmp/schema"
  cp "$tmp/schema/schema.json" "$tmp/schema/bridge-metadata.json" "$gen/"
  # The schema's version must be the plugin version (upstream does the same for schema-embed.json).
  if ! grep -q '^    "version":' "$gen/schema.json"; then
    sed -i '0,/{/s//{\n    "version": "'"$version"'",/' "$gen/schema.json"
  fi
  step "go build pulumi-resource-$name $version" gobuild -o "$tmp/plugin" "./$gen"
fi

mkdir -p "$(dirname "$out")"
mv -f "$tmp/plugin" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
log "done: $out (pulumi-resource-$name $version)"
