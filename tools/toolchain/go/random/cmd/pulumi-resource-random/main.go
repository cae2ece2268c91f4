// Command pulumi-resource-random serves the bridged random provider with the schema and
// bridge metadata that build-plugin.sh generated next to this file (git-ignored).
package main

import (
	"context"
	_ "embed"

	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"slipway.local/toolchain/random/info"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() {
	meta := pfbridge.ProviderMetadata{PackageSchema: pulumiSchema, BridgeMetadata: bridgeMetadata}
	pfbridge.Main(context.Background(), "random", info.Provider(bridgeMetadata), meta)
}
