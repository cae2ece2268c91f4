// The production API image installs images/api/package.json (with its own lock), not the repository's: these checks
// keep that manifest equal to what src/api imports at run time, at the versions the root package.json pins, and its
// lock at the root lock's versions — so the image neither misses a module (it would fail at start) nor carries the
// deploy tooling (@pulumi/*, gRPC, dockerode) the API never runs.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import * as ts from "typescript";

const root = path.resolve(__dirname, "..", "..");
const read = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), "utf8"));
const manifest = read("images/api/package.json") as { dependencies: Record<string, string>; devDependencies?: unknown };
const lock = read("images/api/package-lock.json") as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
const rootManifest = read("package.json") as { dependencies: Record<string, string> };
const rootLock = read("package-lock.json") as typeof lock;

/** Packages src/api loads at run time: imports and requires of non-relative, non-`node:` modules, type-only imports left out. */
function runtimePackages(): string[] {
  const files = fs.readdirSync(path.join(root, "src", "api"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
  const packages = new Set<string>();
  for (const file of files) {
    const source = ts.createSourceFile(file, fs.readFileSync(path.join(root, "src", "api", file), "utf8"), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node) => {
      let spec: string | undefined;
      if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) spec = (node.moduleSpecifier as ts.StringLiteral).text;
      if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) spec = (node.moduleSpecifier as ts.StringLiteral).text;
      if (ts.isCallExpression(node) && node.expression.getText(source) === "require" && ts.isStringLiteral(node.arguments[0]!)) spec = node.arguments[0].text;
      if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0]!)) spec = node.arguments[0].text;
      if (spec && !spec.startsWith(".") && !spec.startsWith("node:")) packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return [...packages].sort();
}

test("the image's manifest lists exactly the packages src/api loads at run time, at the root package.json's versions", () => {
  const imported = runtimePackages();
  assert.ok(imported.includes("fastify") && imported.includes("pg"), `found src/api's imports: ${imported.join(", ")}`);
  assert.deepEqual(Object.keys(manifest.dependencies).sort(), imported, "images/api/package.json dependencies = src/api's run-time imports");
  for (const [name, version] of Object.entries(manifest.dependencies)) assert.equal(version, rootManifest.dependencies[name], `${name}: the root package.json's version`);
  assert.equal(manifest.devDependencies, undefined);
  assert.ok(!Object.keys(lock.packages).some((k) => k.includes("@pulumi/") || k.endsWith("/dockerode") || k.includes("@grpc/")), "no deploy tooling in the image's lock");
});

test("the image's lock matches its manifest and pins every package at the root lock's version", () => {
  assert.deepEqual(lock.packages[""]!.dependencies, manifest.dependencies);
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === "") continue;
    assert.equal(entry.version, rootLock.packages[key]?.version, `${key}: ${entry.version} in images/api/package-lock.json, ${rootLock.packages[key]?.version ?? "absent"} in the root lock (regenerate: cp package-lock.json images/api/ && cd images/api && npm install --package-lock-only --ignore-scripts)`);
  }
});

test("the production stage installs the image's manifest, not the repository's", () => {
  const dockerfile = fs.readFileSync(path.join(root, "images/api/Dockerfile"), "utf8");
  const prod = dockerfile.slice(dockerfile.indexOf("AS prod"));
  assert.match(prod, /^COPY images\/api\/package\.json images\/api\/package-lock\.json \.\/$/m);
  assert.match(prod, /npm ci --omit=dev --ignore-scripts/);
  assert.doesNotMatch(prod, /^COPY package\.json package-lock\.json/m);
});
