// infra/lazy-sdk.js: the program's process loads neither the Automation API nor computeCodePaths (and what they bring:
// @npmcli/arborist, sigstore, pacote…) until something uses them; then they work as before. In a fresh node process,
// as the program's entry (infra/main.js) runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(__dirname, "..", "..");

function probe(script: string): Record<string, unknown> {
  const run = spawnSync(process.execPath, ["-e", script], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

const loaded = `const loaded = (part) => Object.keys(require.cache).some((k) => k.includes(part));`;

test("deferred: the SDK's index loads without the Automation API's and computeCodePaths' dependencies", () => {
  const r = probe(`${loaded}
    const deferred = require("./infra/lazy-sdk").deferUnusedSdkModules();
    const pulumi = require("@pulumi/pulumi");
    const before = { arborist: loaded("@npmcli/arborist"), sigstore: loaded("@sigstore/"), automation: loaded("/automation/localWorkspace"), typescript: loaded("/typescript.js") };
    const outputWorks = pulumi.output(1) !== undefined && typeof pulumi.ComponentResource === "function" && typeof pulumi.dynamic.Resource === "function";
    console.log(JSON.stringify({ deferred, before, outputWorks, modules: Object.keys(require.cache).length }));`);
  assert.deepEqual(r.deferred, ["automation", "runtime/closure/codePaths", "runtime/closure/serializeClosure"]);
  assert.deepEqual(r.before, { arborist: false, sigstore: false, automation: false, typescript: false });
  assert.equal(r.outputWorks, true);
  // For scale: without the stand-ins the index loads ~1,300 modules here.
  assert.ok((r.modules as number) < 700, `${String(r.modules)} modules loaded`);
});

test("used, they load and work: pulumi.automation's classes, runtime.computeCodePaths", () => {
  const r = probe(`${loaded}
    require("./infra/lazy-sdk").deferUnusedSdkModules();
    const pulumi = require("@pulumi/pulumi");
    const workspace = typeof pulumi.automation.LocalWorkspace.create;
    const keys = Object.keys(pulumi.automation).includes("LocalWorkspace");
    const codePaths = typeof pulumi.runtime.computeCodePaths;
    const direct = typeof require("@pulumi/pulumi/automation").Stack;
    pulumi.runtime.computeCodePaths().then(
      (paths) => console.log(JSON.stringify({ workspace, keys, codePaths, direct, computed: paths instanceof Map, arborist: loaded("@npmcli/arborist") })),
      (e) => console.log(JSON.stringify({ error: String(e) })),
    );`);
  assert.deepEqual(r, { workspace: "function", keys: true, codePaths: "function", direct: "function", computed: true, arborist: true });
});

test("used, the closure serializer loads and works: runtime.serializeFunction, pulumi.dynamic.Resource's", () => {
  const r = probe(`${loaded}
    require("./infra/lazy-sdk").deferUnusedSdkModules();
    const pulumi = require("@pulumi/pulumi");
    const before = loaded("/typescript.js");
    const answer = 42;
    pulumi.runtime.serializeFunction(() => answer).then(
      (f) => console.log(JSON.stringify({ before, text: /answer/.test(f.text), typescript: loaded("/typescript.js") })),
      (e) => console.log(JSON.stringify({ error: String(e) })),
    );`);
  assert.deepEqual(r, { before: false, text: true, typescript: true });
});

test("the program's own resources need no serializer: declaring them loads no TypeScript compiler", () => {
  const r = probe(`${loaded}
    require("./infra/lazy-sdk").deferUnusedSdkModules();
    require("tsx/cjs/api").register();
    const { providerCode } = require("./infra/providers/engine.ts");
    const { replicaSetProvider } = require("./infra/providers/replica-set.ts");
    const text = providerCode("replica-set", "replicaSetProvider", replicaSetProvider);
    console.log(JSON.stringify({ text: text.includes("exports.handler"), typescript: loaded("/typescript.js") }));`);
  assert.deepEqual(r, { text: true, typescript: false });
});

test("nothing deferred when the index is already loaded (the stand-ins would come too late)", () => {
  const r = probe(`require("@pulumi/pulumi"); console.log(JSON.stringify({ deferred: require("./infra/lazy-sdk").deferUnusedSdkModules() }));`);
  assert.deepEqual(r.deferred, []);
});
