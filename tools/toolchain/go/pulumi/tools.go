//go:build tools

// Package pulumi pins the Pulumi CLI that slipway builds from Go modules
// (the engine cannot be downloaded on our machines). `go build` of the
// imported main package happens in tools/toolchain.sh.
package pulumi

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
