# shellcheck shell=bash
# The one place that pins the engine. @pulumi/pulumi in package.json must equal PULUMI_VERSION;
# provider plugin versions are read from the npm packages themselves (package.json "pulumi").
PULUMI_VERSION=3.259.0
PULUMI_MODULE=github.com/pulumi/pulumi/pkg/v3
GO_MIN_VERSION=1.25
