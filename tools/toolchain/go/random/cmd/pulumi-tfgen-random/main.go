// Command pulumi-tfgen-random generates schema.json and bridge-metadata.json for our
// bridged random provider (run by tools/toolchain/build-plugin.sh, output not committed).
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"slipway.local/toolchain/random/info"
)

func main() { pftfgen.Main("random", info.Provider(nil)) }
