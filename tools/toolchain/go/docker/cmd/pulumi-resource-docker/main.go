// Command pulumi-resource-docker serves the bridged docker provider (Terraform resources
// only) with the schema and bridge metadata build-plugin.sh generated next to this file.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"slipway.local/toolchain/docker/info"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed bridge-metadata.json
var bridgeMetadata []byte

func main() { tfbridge.Main("docker", info.Version, info.Provider(bridgeMetadata), pulumiSchema) }
