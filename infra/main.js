// The program's entry point (Pulumi.yaml `main`): the program is infra/index.ts, run compiled ahead (./build.js: a
// build keyed by the sources' content, made on the first run after an edit) instead of through the TypeScript loader
// on every run; through tsx when no build can be made. Its exports are the stack's outputs.
/* global require, module, __dirname, process */
"use strict";
const path = require("node:path");
const { loadCompiled } = require("./build");

// Before the program's first require of @pulumi/pulumi: what it never calls is loaded only if something does.
require("./lazy-sdk").deferUnusedSdkModules();

module.exports = loadCompiled(path.resolve(__dirname, ".."), "infra/index", (line) => process.stderr.write(`${line}\n`));
