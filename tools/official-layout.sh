#!/usr/bin/env bash
# The official layout for the current user: the Pulumi CLI, its language host and launcher in ~/.pulumi/bin
# (where the official installer puts them) and the provider plugins in ~/.pulumi/plugins (where
# `pulumi plugin install` puts them), built from our toolchain's binaries; optionally runs the e2e suite in
# that layout (issue 10: the path real users take).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bash tools/official-layout.sh [--force] [--toolchain DIR] [--plugins DIR]
       bash tools/official-layout.sh --run-e2e [--force] [files...]
       bash tools/official-layout.sh --remove [--force]

Lays out ~/.pulumi as the official installer and `pulumi plugin install` would (~ = the passwd home of the
current user, which is where the pulumi CLI looks, whatever $HOME says):
  ~/.pulumi/bin/pulumi*        copied from our built toolchain (.slipway/toolchain/bin: the CLI, the language
                               host pulumi-language-nodejs, the dynamic-provider launcher)
  ~/.pulumi/plugins/resource-<name>-v<version>
                               `pulumi plugin install resource <name> <version> --file <binary>` for each
                               plugin our toolchain registered (.slipway/pulumi-home/plugins: docker, command,
                               random at the npm packages' versions)
  ~/.pulumi/.slipway-official-layout
                               marker: this script made the layout (and what was in ~/.pulumi before)
An existing ~/.pulumi holding anything but logs/ and no marker is refused (it may be a real installation):
--force lays out over it (files of the same name are replaced, nothing else is touched).
Nothing is added to PATH or to a shell profile; the default runs (our toolchain) do not see ~/.pulumi/bin.

Options:
  --run-e2e [files...]  then run the e2e suite in that layout (default: test/e2e/*.test.ts; flags as
                        `npm run test:e2e`, SLIPWAY_E2E_CONCURRENCY files at a time, default 2) with
                        PATH = ~/.pulumi/bin + PATH without any .slipway entry, PULUMI_HOME unset,
                        SLIPWAY_TOOLCHAIN=official, PULUMI_SKIP_UPDATE_CHECK=true and no other PULUMI_* or
                        SLIPWAY_* variable inherited (but SLIPWAY_E2E_* and SLIPWAY_*_TIMEOUT_MS, the test
                        budgets). The tests bring their own file backends and passphrase.
                        Without a built toolchain (e.g. in a clone) an existing layout of this script is
                        used as it is.
  --remove              remove what this script laid out (bin/, plugins/, anything else that appeared in
                        ~/.pulumi since, the marker); keeps what was there before. Refused without the
                        marker unless --force.
  --force               see above
  --toolchain DIR       the built binaries (default: <repo>/.slipway/toolchain/bin)
  --plugins DIR         the registered plugins (default: <repo>/.slipway/pulumi-home/plugins)
  -h, --help            this text

npm run test:e2e:official runs `bash tools/official-layout.sh --run-e2e`.
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BIN="$ROOT/.slipway/toolchain/bin" SRC_PLUGINS="$ROOT/.slipway/pulumi-home/plugins"
RUN=0 REMOVE=0 FORCE=0 FILES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --run-e2e) RUN=1; shift ;;
    --remove) REMOVE=1; shift ;;
    --force) FORCE=1; shift ;;
    --toolchain) SRC_BIN="$2"; shift 2 ;;
    --plugins) SRC_PLUGINS="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "official-layout.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ "$RUN" = 1 ] || { echo "official-layout.sh: '$1': files only after --run-e2e (see --help)" >&2; exit 2; }
       FILES+=("$1"); shift ;;
  esac
done

log() { printf '[official-layout] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The CLI takes ~ from the passwd entry of its uid (Go's os/user), so that is the home laid out.
USER_HOME=$(getent passwd "$(id -u)" | cut -d: -f6 || true)
USER_HOME=${USER_HOME:-$HOME}
[ "$USER_HOME" = "${HOME:-}" ] || log "note: \$HOME is '${HOME:-}', the pulumi CLI uses the passwd home '$USER_HOME'"
P="$USER_HOME/.pulumi"
MARKER="$P/.slipway-official-layout"

# Environment for every pulumi call and the e2e run: nothing from our toolchain or the caller's Pulumi set-up.
clean_env() {
  local name path="" dir
  local -a keep=()
  while IFS= read -r name; do
    case "$name" in
      PULUMI_*|NODE_TEST_CONTEXT) continue ;;
      SLIPWAY_E2E_*|SLIPWAY_*_TIMEOUT_MS|SLIPWAY_IMAGE_TAG) keep+=("$name=${!name}") ;;
      SLIPWAY_*|PATH) continue ;;
      *) keep+=("$name=${!name}") ;;
    esac
  done < <(compgen -e)
  local IFS=:
  for dir in $PATH; do
    [ -n "$dir" ] && [[ "$dir" != *.slipway* ]] && [ "$dir" != "$P/bin" ] && path+=":$dir"
  done
  CLEAN_ENV=("${keep[@]}" "PATH=$P/bin$path" SLIPWAY_TOOLCHAIN=official PULUMI_SKIP_UPDATE_CHECK=true)
}
clean_env
in_layout() { env -i "${CLEAN_ENV[@]}" "$@"; }

if [ "$REMOVE" = 1 ]; then
  [ -d "$P" ] || { log "no $P: nothing to remove"; exit 0; }
  [ -f "$MARKER" ] || [ "$FORCE" = 1 ] || die "$P was not laid out by this script (no $MARKER): not removing it (--force to remove bin/ and plugins/ anyway)"
  mapfile -t before < <(sed -n 's/^before: //p' "$MARKER" 2>/dev/null || true)
  for entry in "$P"/* "$P"/.[!.]*; do
    [ -e "$entry" ] || continue
    name=${entry#"$P"/}
    if [ -f "$MARKER" ]; then
      printf '%s\n' "${before[@]}" | grep -qxF -- "$name" && continue
    else
      case "$name" in bin|plugins) ;; *) continue ;; esac
    fi
    rm -rf -- "$entry"
  done
  rmdir "$P" 2>/dev/null || true
  log "removed the official layout from $P"
  exit 0
fi

# --- lay out ----------------------------------------------------------------------------------------
# A usable source: the CLI (not a link to the layout itself: tools/toolchain.sh links a `pulumi` it finds on
# PATH), the language host and at least one registered plugin.
have_toolchain=0
if [ -x "$SRC_BIN/pulumi" ] && [ -x "$SRC_BIN/pulumi-language-nodejs" ] && compgen -G "$SRC_PLUGINS/resource-*-v*/pulumi-resource-*" >/dev/null \
  && [ "$(readlink -f "$SRC_BIN/pulumi")" != "$(readlink -f "$P/bin/pulumi" 2>/dev/null)" ]; then
  have_toolchain=1
fi
if [ "$have_toolchain" = 1 ]; then
  if [ -d "$P" ] && [ ! -f "$MARKER" ]; then
    others=$(find "$P" -mindepth 1 -maxdepth 1 ! -name logs -printf '%f ' 2>/dev/null)
    [ -z "$others" ] || [ "$FORCE" = 1 ] \
      || die "$P exists and was not laid out by this script (holds: $others): refusing to overwrite it (--force to lay out over it)"
  fi
  plugins=()
  for d in "$SRC_PLUGINS"/resource-*-v*; do
    [ -d "$d" ] || continue
    if [[ "$(basename "$d")" =~ ^resource-(.+)-v([0-9]+\.[0-9]+\.[0-9]+.*)$ ]]; then
      name=${BASH_REMATCH[1]} version=${BASH_REMATCH[2]}
      [ -x "$d/pulumi-resource-$name" ] || die "$d has no pulumi-resource-$name"
      plugins+=("$name $version")
    fi
  done
  [ "${#plugins[@]}" -gt 0 ] || die "no plugins in $SRC_PLUGINS (run bash tools/toolchain.sh)"

  if [ ! -f "$MARKER" ]; then
    mkdir -p "$P"
    before=$(find "$P" -mindepth 1 -maxdepth 1 -printf 'before: %f\n')
    printf '%s\n' "# made by tools/official-layout.sh $(date -u +%FT%TZ); --remove keeps only the 'before' entries" "$before" >"$MARKER"
  fi
  mkdir -p "$P/bin"
  for f in "$SRC_BIN"/pulumi*; do install -m 0755 "$f" "$P/bin/$(basename "$f")"; done
  log "CLI: $P/bin ($(cd "$P/bin" && echo pulumi*)), $("$P/bin/pulumi" version)"
  for p in "${plugins[@]}"; do
    read -r name version <<<"$p"
    out=$(in_layout "$P/bin/pulumi" plugin install resource "$name" "$version" --file "$SRC_PLUGINS/resource-$name-v$version/pulumi-resource-$name" --reinstall 2>&1) \
      || die "pulumi plugin install resource $name $version failed: $out"
    [ -x "$P/plugins/resource-$name-v$version/pulumi-resource-$name" ] || die "plugin $name $version did not land in $P/plugins"
    log "plugin: $name $version -> $P/plugins/resource-$name-v$version"
  done
elif [ -f "$MARKER" ] && [ -x "$P/bin/pulumi" ]; then
  log "no built toolchain at $SRC_BIN: using the layout already in $P ($("$P/bin/pulumi" version))"
else
  die "no built toolchain at $SRC_BIN with plugins in $SRC_PLUGINS (bash tools/toolchain.sh, or --toolchain/--plugins) and no layout of this script in $P"
fi

[ "$RUN" = 1 ] || exit 0

# --- the e2e suite in that layout -----------------------------------------------------------------------
cd "$ROOT"
[ "${#FILES[@]}" -gt 0 ] || FILES=(test/e2e/*.test.ts)
log "running ${#FILES[@]} e2e file(s) in $ROOT with $(in_layout sh -c 'command -v pulumi'), PULUMI_HOME unset, SLIPWAY_TOOLCHAIN=official"
exec env -i "${CLEAN_ENV[@]}" node --import tsx --test --test-reporter=spec --test-concurrency="${SLIPWAY_E2E_CONCURRENCY:-2}" "${FILES[@]}"
