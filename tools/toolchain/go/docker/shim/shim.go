// Package shim exposes kreuzwerker/terraform-provider-docker's internal SDKv2 provider to
// the Pulumi bridge (Go allows it: this module's path is under that module's path).
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream provider (the same call pulumi-docker's shim makes).
func NewProvider() *schema.Provider { return provider.New("dev")() }
