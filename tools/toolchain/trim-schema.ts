// Writes the trimmed official schema that test/e2e/plugin-conformance.test.ts compares our plugin with.
//
//   node --import tsx tools/toolchain/trim-schema.ts PLUGIN OFFICIAL_SCHEMA_JSON
//
// PLUGIN is docker, command or random; OFFICIAL_SCHEMA_JSON is the untouched schema.json of the
// official provider at the commit recorded in tools/toolchain/conformance/schema.ts (its sha256 is
// checked). Output: test/fixtures/plugin-schemas/PLUGIN-VERSION.json, the same schema with only
// the resources, functions and types slipway uses (see test/fixtures/plugin-schemas/README.md).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { fixturePath, repoRoot, scopeOf, trimSchema, type PackageSchema, type PluginName } from "./conformance/schema";

function main(argv: string[]): number {
  const [plugin, source] = argv;
  if (!plugin || !source || !["docker", "command", "random"].includes(plugin)) {
    process.stderr.write("usage: node --import tsx tools/toolchain/trim-schema.ts docker|command|random OFFICIAL_SCHEMA_JSON\n");
    return 2;
  }
  const scope = scopeOf(plugin as PluginName);
  const raw = readFileSync(source);
  const sha = createHash("sha256").update(raw).digest("hex");
  if (sha !== scope.upstream.sha256) {
    process.stderr.write(
      `trim-schema: ${source} has sha256 ${sha}, expected ${scope.upstream.sha256} ` +
        `(${scope.upstream.repo} ${scope.upstream.tag}, ${scope.upstream.commit}:${scope.upstream.path})\n`,
    );
    return 1;
  }
  const trimmed = trimSchema(JSON.parse(raw.toString("utf8")) as PackageSchema, scope);
  const out = fixturePath(scope);
  writeFileSync(out, JSON.stringify(trimmed, null, 2) + "\n");
  process.stdout.write(`${relative(repoRoot, out)}: ${Object.keys(trimmed.resources ?? {}).length} resources, ` +
    `${Object.keys(trimmed.functions ?? {}).length} functions, ${Object.keys(trimmed.types ?? {}).length} types\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
