// tools/check-cycles.ts, the lint step's import-cycle check: which imports it follows, and the cycles it reports.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as ts from "typescript";
import { findCycles, importGraph, roomGraph, roomOf } from "../../tools/check-cycles";

const options: ts.CompilerOptions = { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 };

describe("import cycle check", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "slipway-cycles-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (files: Record<string, string>) => Object.entries(files).map(([name, text]) => (fs.writeFileSync(path.join(dir, name), text), path.join(dir, name)));

  it("follows imports of every kind between project files, type-only ones too, and nothing outside them", () => {
    const files = write({
      "a.ts": 'import type { B } from "./b";\nimport * as fs from "node:fs";\nexport type A = B | typeof fs;\n',
      "b.ts": 'export { c } from "./c";\nexport type B = string;\n',
      "c.ts": 'export const c = () => require("./d");\nexport const e = () => import("./e");\n',
      "d.ts": "export {};\n",
      "e.ts": "export {};\n",
    });
    const graph = importGraph(files, options);
    const at = (name: string) => path.join(dir, name);
    assert.deepEqual(graph.get(at("a.ts")), [at("b.ts")]);
    assert.deepEqual(graph.get(at("b.ts")), [at("c.ts")]);
    assert.deepEqual(graph.get(at("c.ts")), [at("d.ts"), at("e.ts")]);
    assert.deepEqual(findCycles(graph), []);
  });

  it("reports a type-only cycle (the kind eslint's import plugins skip)", () => {
    const files = write({
      "commands.ts": 'import type { Options } from "./backup";\nexport const verb = (o: Options) => [o.stack];\n',
      "backup.ts": 'import { verb } from "./commands";\nexport interface Options { stack: string }\nexport const run = verb;\n',
    });
    assert.deepEqual(findCycles(importGraph(files, options)), [[path.join(dir, "backup.ts"), path.join(dir, "commands.ts"), path.join(dir, "backup.ts")]]);
  });

  it("reports one shortest cycle per tangle, and self-imports", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a", "d"]],
      ["d", ["b"]],
      ["e", ["e"]],
      ["f", ["a"]],
    ]);
    assert.deepEqual(findCycles(graph), [
      ["a", "b", "c", "a"],
      ["e", "e"],
    ]);
  });

  it("draws rooms (src/<room>, infra, stacks, bench, tools; tests none) and finds two rooms importing each other", () => {
    assert.equal(roomOf(path.join("src", "edge", "proxy.ts")), "src/edge");
    assert.equal(roomOf(path.join("infra", "providers", "engine.ts")), "infra");
    assert.equal(roomOf(path.join("test", "support", "load.ts")), undefined);
    const root = "/r";
    const f = (p: string) => path.join(root, p);
    // What main had before the orphan watch moved to src/vocabulary: rollout → edge, and edge → rollout/orphan.ts.
    const graph = new Map([
      [f("src/rollout/executor.ts"), [f("src/edge/slots.ts"), f("src/vocabulary/naming.ts")]],
      [f("src/edge/index.ts"), [f("src/rollout/orphan.ts")]],
      [f("src/edge/slots.ts"), [f("src/vocabulary/naming.ts")]],
      [f("src/rollout/orphan.ts"), []],
      [f("src/vocabulary/naming.ts"), []],
      [f("test/unit/x.test.ts"), [f("src/edge/slots.ts"), f("src/rollout/executor.ts")]],
    ]);
    const rooms = roomGraph(graph, root);
    assert.deepEqual(rooms.get("src/rollout"), ["src/edge", "src/vocabulary"]);
    assert.equal(rooms.has("test"), false);
    assert.deepEqual(findCycles(rooms), [["src/edge", "src/rollout", "src/edge"]]);
    graph.set(f("src/edge/index.ts"), [f("src/vocabulary/orphan.ts")]);
    assert.deepEqual(findCycles(roomGraph(graph, root)), []);
  });
});
