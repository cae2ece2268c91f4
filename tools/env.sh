# shellcheck shell=bash
# Environment for running slipway locally: the toolchain built by tools/toolchain.sh, the file
# backend inside the project and a passphrase secrets provider. Source it:  . tools/env.sh
SLIPWAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SLIPWAY_ROOT
export SLIPWAY_CACHE=${SLIPWAY_CACHE:-$HOME/.cache/slipway}
export PATH="$SLIPWAY_ROOT/.slipway/toolchain/bin:$PATH"
export PULUMI_HOME=${PULUMI_HOME:-$SLIPWAY_ROOT/.slipway/pulumi-home}
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$SLIPWAY_ROOT/.slipway/state}
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The local passphrase guards only the local file backend; real stacks set their own
# PULUMI_CONFIG_PASSPHRASE(_FILE) or another secrets provider.
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=slipway-local
fi
mkdir -p "$SLIPWAY_ROOT/.slipway/state" "$PULUMI_HOME"
