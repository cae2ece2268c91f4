#!/usr/bin/env bash
# One command from a fresh clone to a running staging stack on this machine: provision what is
# missing (Docker engine, node_modules, the Pulumi engine and plugins built from Go modules, local
# images), create the `staging` stack on the local file backend if it is not there yet, promote the
# images of this commit to it and check /health through the edge. This is the air-gapped set-up; with
# the official Pulumi CLI see README.md ("With internet").
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/toolchain.sh
SLIPWAY_TOOLCHAIN=air-gapped
. tools/env.sh
tag=$(git rev-parse --short=12 HEAD)
# The verbs never create a stack; this script does, on purpose, the first time (then only selects it).
pulumi stack select --create staging --non-interactive
npm run --silent promote -- --stack staging --image "slipway/api:$tag" --edge-image "slipway/edge:$tag"
url=$(pulumi stack output edgeUrl --stack staging)
echo
echo "health: $(curl -fsS "$url/health")"
echo "staging is up: $url/health"
