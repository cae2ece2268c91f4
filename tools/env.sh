# shellcheck shell=bash
# Environment for running slipway by hand. Source it:  . tools/env.sh
#
# With the air-gapped toolchain (tools/toolchain.sh built .slipway/toolchain/bin/pulumi and you set neither
# PULUMI_HOME nor PULUMI_BACKEND_URL, or no other `pulumi` is on PATH; or this file is sourced by
# tools/toolchain.sh): the toolchain first on PATH and, where you left them unset, PULUMI_HOME=.slipway/pulumi-home,
# the file backend in .slipway/state, no plugin downloads and — for a file backend only — the passphrase
# `slipway-local`. Exports SLIPWAY_TOOLCHAIN=air-gapped,
# which the verbs (src/release/stack.ts) read the same way.
#
# Otherwise (the official Pulumi CLI, or your own PULUMI_HOME / PULUMI_BACKEND_URL, or SLIPWAY_TOOLCHAIN=official)
# nothing Pulumi-related is changed: ~/.pulumi, `pulumi login` and automatic plugin acquisition stay as
# Pulumi has them, and secrets need your own PULUMI_CONFIG_PASSPHRASE(_FILE) or secrets provider.
SLIPWAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SLIPWAY_ROOT
export SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}

slipway_air_gapped=0
if [ "${SLIPWAY_TOOLCHAIN:-}" = air-gapped ] || [[ "${BASH_SOURCE[1]:-}" == *toolchain.sh ]]; then
  slipway_air_gapped=1   # asked for, or tools/toolchain.sh (which builds that toolchain) sourced us
elif [ "${SLIPWAY_TOOLCHAIN:-}" != official ] && [ -x "$SLIPWAY_ROOT/.slipway/toolchain/bin/pulumi" ]; then
  slipway_other_pulumi=$(command -v pulumi 2>/dev/null || true)
  if { [ -z "${PULUMI_HOME:-}" ] && [ -z "${PULUMI_BACKEND_URL:-}" ]; } \
    || [ -z "$slipway_other_pulumi" ] || [ "$slipway_other_pulumi" = "$SLIPWAY_ROOT/.slipway/toolchain/bin/pulumi" ]; then
    slipway_air_gapped=1   # the toolchain is built and nothing else claims the Pulumi set-up
  fi
  unset slipway_other_pulumi
fi

if [ "$slipway_air_gapped" = 1 ]; then
  export SLIPWAY_TOOLCHAIN=air-gapped
  case ":$PATH:" in
    *":$SLIPWAY_ROOT/.slipway/toolchain/bin:"*) ;;
    *) export PATH="$SLIPWAY_ROOT/.slipway/toolchain/bin:$PATH" ;;
  esac
  export PULUMI_HOME=${PULUMI_HOME:-$SLIPWAY_ROOT/.slipway/pulumi-home}
  export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$SLIPWAY_ROOT/.slipway/state}
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:-true}
  mkdir -p "$PULUMI_HOME"
  case "$PULUMI_BACKEND_URL" in
    file://*)
      mkdir -p "${PULUMI_BACKEND_URL#file://}"
      if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
        export PULUMI_CONFIG_PASSPHRASE=slipway-local
      fi
      ;;
  esac
fi
unset slipway_air_gapped
