// Parts of @pulumi/pulumi that its index loads eagerly and the program never calls (issue 22: a no-op preview's
// program start): the Automation API (`pulumi.automation`, which the verbs use from their own process),
// `runtime.computeCodePaths` (packaging function code for serverless providers) and the closure serializer (below). Between them they bring
// @npmcli/arborist, pacote, sigstore, tuf, semver… — about 800 modules, ~0.5 s of CPU on every preview and up before
// the program's first line. Each is put in node's module cache as a stand-in that loads the real module on first use,
// so nothing changes for a caller but when the loading happens. Plain CommonJS: it runs before anything else.
/* global require, module, __dirname */
"use strict";
const Module = require("node:module");

/** A stand-in for the module at `file` in require's cache; `exportsOf(load)` builds its exports. */
function stand(file, exportsOf) {
  let real;
  const load = () => {
    if (!real) {
      delete require.cache[file];
      real = require(file);
    }
    return real;
  };
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = exportsOf(load);
  require.cache[file] = m;
}

/**
 * Installs the stand-ins; before anything of the program requires @pulumi/pulumi. Returns what it deferred (paths
 * relative to the SDK): nothing when this SDK is laid out otherwise, or its index is already loaded.
 */
function deferUnusedSdkModules(from = __dirname) {
  let index;
  try {
    index = require.resolve("@pulumi/pulumi", { paths: [from] });
  } catch {
    return [];
  }
  if (require.cache[index]) return [];
  const sdk = require("node:path").dirname(index);
  const deferred = [];
  const at = (rel) => {
    try {
      const file = require.resolve(`${sdk}/${rel}`);
      return require.cache[file] ? undefined : file;
    } catch {
      return undefined;
    }
  };
  // index.js keeps `exports.automation` as the namespace object it imported (__importStar passes an __esModule
  // object through): a proxy that loads the real one on first property access.
  const automation = at("automation");
  if (automation) {
    stand(automation, (load) =>
      new Proxy(Object.create(null), {
        get: (_t, key) => (key === "__esModule" ? true : load()[key]),
        has: (_t, key) => key in load(),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_t, key) => {
          const d = Object.getOwnPropertyDescriptor(load(), key);
          return d && { ...d, configurable: true };
        },
      }),
    );
    deferred.push("automation");
  }
  // runtime/index.js copies `computeCodePaths` off the module when it loads: functions that load it when called.
  const codePaths = at("runtime/closure/codePaths");
  if (codePaths) {
    stand(codePaths, (load) => Object.fromEntries(["computeCodePaths", "findWorkspaceRoot", "packageArchivePath"].map((name) => [name, (...args) => load()[name](...args)])));
    deferred.push("runtime/closure/codePaths");
  }
  // runtime/index.js copies serializeFunction(Async) off the closure serializer, which loads the TypeScript compiler
  // (~9 MB, ~0.3 s) to read functions' closures; the program declares its dynamic resources without it
  // (infra/providers/host.js), so it loads only if something serializes a function.
  const closure = at("runtime/closure/serializeClosure");
  if (closure) {
    stand(closure, (load) => Object.fromEntries(["serializeFunction", "serializeFunctionAsync"].map((name) => [name, (...args) => load()[name](...args)])));
    deferred.push("runtime/closure/serializeClosure");
  }
  return deferred;
}

module.exports = { deferUnusedSdkModules };
