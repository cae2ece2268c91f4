// The program's entry point (Pulumi.yaml `main`): the program is infra/index.ts, run compiled ahead (./build.js: a
// build keyed by the sources' content, made on the first run after an edit) instead of through the TypeScript loader
// on every run; through tsx when no build can be made. Its exports are the stack's outputs.
/* global require, module, __dirname, process */
"use strict";
const path = require("node:path");
const { loadCompiled } = require("./build");

// Before the program's first require of @pulumi/pulumi: what it never calls is loaded only if something does.
require("./lazy-sdk").deferUnusedSdkModules();

// Pulumi records where each resource is declared: a whole stack trace per resource, which source-map-support (the
// SDK's runner installs it) maps frame by frame — through the source maps of @pulumi/pulumi, grpc and protobuf too,
// read and parsed on every run (~0.2 s of a no-op preview). Frames inside node_modules keep their own positions; the
// program's own frames are mapped to its TypeScript as before (the build's maps).
const NO_MAP = { version: 3, sources: [], names: [], mappings: "" };
try {
  const sdk = path.dirname(require.resolve("@pulumi/pulumi"));
  require(require.resolve("source-map-support", { paths: [sdk] })).install({
    retrieveSourceMap: (source) => (source.includes(`${path.sep}node_modules${path.sep}`) ? { url: source, map: NO_MAP } : null),
  });
} catch {
  // another SDK layout: stack traces are mapped as the SDK does it
}

module.exports = loadCompiled(path.resolve(__dirname, ".."), "infra/index", (line) => process.stderr.write(`${line}\n`));
