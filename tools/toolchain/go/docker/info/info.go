// Package info is slipway's own ProviderInfo for the bridged docker provider: it maps
// kreuzwerker/terraform-provider-docker's SDKv2 resources to the tokens @pulumi/docker 5.0.0
// uses (docker_container -> docker:index/container:Container, docker_image ->
// docker:index/remoteImage:RemoteImage, ...), as pulumi-docker v5.0.0 does.
package info

import (
	"context"
	"fmt"
	"unicode"

	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	tfbridgetokens "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is set with -ldflags "-X slipway.local/toolchain/docker/info.Version=5.0.0".
var Version = "5.0.0"

func resource(name string) tokens.Type {
	return tokens.Type("docker:index/" + string(unicode.ToLower(rune(name[0]))) + name[1:] + ":" + name)
}

func function(name string) tokens.ModuleMember {
	return tokens.ModuleMember("docker:index/" + name + ":" + name)
}

// updatedInPlace lists the Terraform attributes that the kreuzwerker version we build marks
// ForceNew but that pulumi-docker v5.0.0 (kreuzwerker 619686ddb44a) updates in place. A change to
// one of them must not replace the resource: for docker_container that would delete and recreate
// the database container on a routine deploy. kreuzwerker v4.6.0 made healthcheck ForceNew
// ("changing healthcheck should recreate container", #989); v5.0.0's schema.json has no
// willReplaceOnChanges on it. (Docker cannot change a running container's healthcheck, so, as in
// v5.0.0, the new healthcheck is recorded in the state and reaches Docker when the container is
// next recreated for another reason.)
//
// This is done on the Terraform schema itself, not with SchemaInfo.ForceNew = false: the bridge
// only ever adds ForceNew from SchemaInfo at run time, so that would change the generated schema
// but still replace the container.
var updatedInPlace = map[string][]string{
	"docker_container": {"healthcheck"},
}

// alignWithV5 applies updatedInPlace to the provider's schema. It panics (at build time, in tfgen)
// when an attribute is gone or no longer ForceNew, so the list never outlives its reason.
func alignWithV5(p *schema.Provider) *schema.Provider {
	for res, attrs := range updatedInPlace {
		r := p.ResourcesMap[res]
		if r == nil {
			panic(fmt.Sprintf("slipway docker mapping: resource %s not found in the provider", res))
		}
		for _, attr := range attrs {
			s := r.Schema[attr]
			if s == nil || !s.ForceNew {
				panic(fmt.Sprintf("slipway docker mapping: %s.%s is missing or no longer ForceNew; remove it from updatedInPlace in go/docker/info", res, attr))
			}
			s.ForceNew = false
		}
	}
	return p
}

// Provider returns the bridge mapping. metadata is the tfgen-generated bridge-metadata.json
// (nil while generating it).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(alignWithV5(shim.NewProvider())),
		Name:        "docker",
		Description: "A Pulumi package for interacting with Docker in Pulumi programs",
		Keywords:    []string{"pulumi", "docker"},
		License:     "Apache-2.0",
		Homepage:    "https://pulumi.io",
		Repository:  "https://github.com/pulumi/pulumi-docker",
		GitHubOrg:   "kreuzwerker",
		Version:     Version,
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {
				Default: &tfbridge.DefaultInfo{
					EnvVars: []string{"DOCKER_HOST"},
					ComputeDefault: func(context.Context, tfbridge.ComputeDefaultOptions) (interface{}, error) {
						return "unix:///var/run/docker.sock", nil
					},
				},
			},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: resource("ServiceConfig")},
			"docker_container": {
				Tok:                 resource("Container"),
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok:    resource("RemoteImage"),
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}},
			},
			"docker_network":        {Tok: resource("Network")},
			"docker_secret":         {Tok: resource("Secret")},
			"docker_service":        {Tok: resource("Service")},
			"docker_volume":         {Tok: resource("Volume")},
			"docker_registry_image": {Tok: resource("RegistryImage")},
			"docker_plugin":         {Tok: resource("Plugin")},
			"docker_tag":            {Tok: resource("Tag")},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_network":        {Tok: function("getNetwork")},
			"docker_registry_image": {Tok: function("getRegistryImage")},
			"docker_plugin":         {Tok: function("getPlugin")},
			"docker_image":          {Tok: function("getRemoteImage")},
			"docker_logs":           {Tok: function("getLogs")},
		},
		JavaScript:   &tfbridge.JavaScriptInfo{RespectSchemaVersion: true},
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
	}
	prov.MustComputeTokens(tfbridgetokens.SingleModule("docker_", "index", tfbridgetokens.MakeStandard("docker")))
	prov.MustApplyAutoAliases()
	prov.SetAutonaming(255, "-")
	return prov
}
