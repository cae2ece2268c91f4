// Package shim exposes terraform-provider-random's internal provider constructor
// to the Pulumi bridge (Go allows it: this module's path is under that module's path).
package shim

import (
	tfpf "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream plugin-framework provider.
func NewProvider() tfpf.Provider { return provider.New() }
