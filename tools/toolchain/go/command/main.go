// Command pulumi-resource-command is slipway's own implementation of the
// `command` provider's local surface (command:local:Command and command:local:run),
// written with pulumi-go-provider because github.com/pulumi/pulumi-command/provider
// is not served by the Go module proxy we can reach. See tools/toolchain/PLUGINS.md.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi-go-provider/middleware/schema"

	"slipway.local/toolchain/command/local"
)

// Version is set by build-plugin.sh with -ldflags "-X main.Version=1.2.1".
var Version = "1.2.1"

func provider() p.Provider {
	return infer.Provider(infer.Options{
		Metadata: schema.Metadata{
			DisplayName: "Command",
			Description: "slipway's local-only implementation of the Pulumi Command provider.",
			Keywords:    []string{"pulumi", "command", "category/utility", "kind/native"},
			License:     "Apache-2.0",
			LanguageMap: map[string]any{"nodejs": map[string]any{"respectSchemaVersion": true}},
		},
		Resources: []infer.InferredResource{infer.Resource(&local.Command{})},
		Functions: []infer.InferredFunction{infer.Function(&local.Run{})},
	})
}

func main() {
	if err := provider().Run(context.Background(), "command", strings.TrimPrefix(Version, "v")); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s", err.Error())
		os.Exit(1)
	}
}
