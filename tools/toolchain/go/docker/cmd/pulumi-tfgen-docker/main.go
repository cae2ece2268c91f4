// Command pulumi-tfgen-docker generates schema.json and bridge-metadata.json for our
// bridged docker provider (run by tools/toolchain/build-plugin.sh, output not committed).
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"slipway.local/toolchain/docker/info"
)

func main() { tfgen.Main("docker", info.Version, info.Provider(nil)) }
