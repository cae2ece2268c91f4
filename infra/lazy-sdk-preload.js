// `node --require ./infra/lazy-sdk-preload.js …`: infra/lazy-sdk.js's stand-ins installed before the process's first
// require of @pulumi/pulumi — how the toolchain's dynamic-provider launcher (tools/toolchain/bin/
// pulumi-resource-pulumi-nodejs) starts the SDK's provider host in a slipway checkout.
/* global require, process */
"use strict";
require("./lazy-sdk").deferUnusedSdkModules(process.cwd());
