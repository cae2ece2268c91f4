#!/usr/bin/env bash
# One command from a fresh clone to a running staging stack on this machine: provision what is
# missing (Docker engine, node_modules, the Pulumi engine and plugins built from Go modules, local
# images), then promote the images of this commit to the `staging` stack on the local file backend
# and check /health through the edge.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/toolchain.sh
. tools/env.sh
tag=$(git rev-parse --short=12 HEAD)
npm run --silent promote -- --stack staging --image "slipway/api:$tag" --edge-image "slipway/edge:$tag"
url=$(pulumi stack output edgeUrl --stack staging)
echo
echo "health: $(curl -fsS "$url/health")"
echo "staging is up: $url/health"
