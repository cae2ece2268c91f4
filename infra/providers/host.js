// What the state holds for each slipway dynamic resource (its `__provider` input): a few lines of plain JavaScript,
// written here as source text, that load the real provider from the checkout running `pulumi` (its methods then load
// their engine the same way: infra/providers/engine.ts loadEngine). Pulumi's own pulumi.dynamic.Resource serializes a
// provider with runtime.serializeFunction, which loads the TypeScript compiler (~9 MB) into the program on every
// preview and up to read the functions' closures; this text needs no serializer, so the program never loads it
// (infra/lazy-sdk.js defers it). Plain CommonJS, self-contained functions: their source is the text.
/* global require, module, process */
"use strict";

/**
 * Loads `rel` (a module path without extension, relative to a checkout: `src/rollout/index`, `infra/providers/swarm`)
 * from the checkout running `pulumi` now — the dynamic-provider host runs in the program's directory, where Pulumi.yaml
 * is, so state written from one clone works from another — else from `declared`, the one that declared the resource:
 * compiled ahead (infra/build.js) where it can be, else through tsx.
 */
function loadFromCheckout(rel, declared) {
  const fs = require("node:fs");
  const path = require("node:path");
  const local = path.resolve(process.cwd(), `${rel}.ts`);
  const entry = fs.existsSync(local) ? local : path.join(declared, `${rel}.ts`);
  const checkout = path.resolve(fs.realpathSync(entry), ...rel.split("/").map(() => ".."));
  const builder = path.join(checkout, "infra", "build.js");
  if (fs.existsSync(builder)) return require(builder).loadCompiled(checkout, rel, (line) => process.stderr.write(`${line}\n`));
  // A checkout without compile-ahead: tsx, registered once per process (each registration stacks another compile hook).
  if (!process.slipwayTsxRegistered) {
    require(require.resolve("tsx/cjs/api", { paths: [entry] })).register();
    process.slipwayTsxRegistered = true;
  }
  return require(entry);
}

/** The provider the host calls: each method loads `spec.exported` of infra/providers/`spec.module` and calls it. */
function standIn(spec, load) {
  return Object.fromEntries(spec.methods.map((method) => [method, (...args) => load(`infra/providers/${spec.module}`, spec.declared)[spec.exported][method](...args)]));
}

/**
 * The text for `spec` ({ module, exported, methods, declared }): a CommonJS module whose `handler()` returns the
 * stand-in, as the dynamic-provider host expects of a serialized provider. The same spec gives the same text.
 */
function providerText(spec) {
  const { module: mod, exported, methods, declared } = spec;
  return [
    `// slipway: ${exported} of infra/providers/${mod}, loaded where it runs (infra/providers/host.js)`,
    '"use strict";',
    `const spec = ${JSON.stringify({ module: mod, exported, methods, declared })};`,
    loadFromCheckout.toString(),
    standIn.toString(),
    "exports.handler = () => standIn(spec, loadFromCheckout);",
    "",
  ].join("\n");
}

module.exports = { loadFromCheckout, providerText };
