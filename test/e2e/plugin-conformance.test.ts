// Our provider plugins against the official ones of the same version (issue 10): each built plugin's
// schema is compared with the official schema.json (test/fixtures/plugin-schemas) for every
// resource, function and property slipway uses, and its Diff is asked, input by input, whether a
// change replaces the resource. Any difference not in the allow-list of tools/toolchain/PLUGINS.md
// fails, as does an allow-list row that no longer matches anything. Talks to the plugin binaries
// over gRPC (no engine, no stack, no Docker): a few seconds.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  compareSchemas,
  formatDifference,
  readAllowList,
  readFixture,
  repoRoot,
  SCOPES,
  type PackageSchema,
  type PluginScope,
} from "../../tools/toolchain/conformance/schema";
import { ProviderPlugin, type DiffResult } from "../../tools/toolchain/conformance/provider-rpc";
import { outcomeFor, probeCases } from "../../tools/toolchain/conformance/replace-probe";
import { officialEngine } from "../support/pulumi";

// Our built plugins (the air-gapped toolchain's home). In the official layout (SLIPWAY_TOOLCHAIN=official)
// the plugins are whatever `pulumi plugin install` put in ~/.pulumi: this file checks nothing there and skips.
const pulumiHome = process.env.PULUMI_HOME ?? join(repoRoot, ".slipway", "pulumi-home");
const skip = officialEngine ? "checks the air-gapped toolchain's own plugins; the official layout runs Pulumi's" : false;
const binaryOf = (s: PluginScope) => join(pulumiHome, "plugins", `resource-${s.plugin}-v${s.version}`, `pulumi-resource-${s.plugin}`);

const plugins = new Map<string, ProviderPlugin>();
const schemas = new Map<string, PackageSchema>();
let missing = "";

before(async () => {
  if (skip) return;
  // `--check` builds nothing; it says per plugin whether the registered binary is the build of the
  // current wrapper module (tools/toolchain/go/<name>), so a stale plugin fails here too.
  const check = spawnSync("bash", ["tools/toolchain.sh", "--check", "--no-docker"], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, PULUMI_HOME: pulumiHome },
    timeout: 60_000,
  });
  const problems = SCOPES.filter(
    (s) => !existsSync(binaryOf(s)) || !new RegExp(`^\\[toolchain +\\d+s\\] plugin ${s.plugin} v${s.version.replace(/\./g, "\\.")}: installed`, "m").test(check.stdout ?? ""),
  ).map((s) => `${s.plugin} ${s.version} (${binaryOf(s)})`);
  if (problems.length > 0) {
    missing = `provider plugins missing or not built from the current tools/toolchain/go modules: ${problems.join(", ")}; run \`bash tools/toolchain.sh\`\n${check.stdout ?? ""}${check.stderr ?? ""}`;
    return;
  }
  for (const s of SCOPES) {
    const p = await ProviderPlugin.start(binaryOf(s));
    plugins.set(s.plugin, p);
    await p.configure({});
    schemas.set(s.plugin, (await p.getSchema()) as PackageSchema);
  }
});

after(async () => {
  await Promise.all([...plugins.values()].map((p) => p.close()));
});

function plugin(s: PluginScope): ProviderPlugin {
  if (missing) assert.fail(missing);
  const p = plugins.get(s.plugin);
  assert.ok(p, `${s.plugin} plugin did not start`);
  return p;
}

const allowList = readAllowList();
const RUNTIME_ROW = ": updates in place";

for (const scope of SCOPES) {
  test(`${scope.plugin} ${scope.version}: schema equals the official one in everything slipway uses, but for PLUGINS.md's allow-list`, { skip }, () => {
    plugin(scope);
    const ours = schemas.get(scope.plugin) as PackageSchema;
    const official = readFixture(scope);
    assert.equal(ours.name, official.name);
    if (ours.version !== undefined) assert.equal(ours.version, scope.version, "the schema's version is the plugin version");
    const differences = compareSchemas(official, ours, scope);
    const allowed = allowList.filter((a) => a.plugin === scope.plugin);
    const unexpected = differences.filter((d) => !allowed.some((a) => a.id === d.id)).map(formatDifference);
    // Rows about run-time replace decisions ("…: updates in place") belong to the next test.
    const stale = allowed.filter((a) => !a.id.endsWith(RUNTIME_ROW) && !differences.some((d) => d.id === a.id)).map((a) => a.id);
    assert.deepEqual(
      unexpected,
      [],
      `${scope.plugin}: differences from the official ${scope.upstream.repo} ${scope.upstream.tag} schema; align tools/toolchain/go/${scope.plugin} ` +
        `or, if harmless, document them in the allow-list of tools/toolchain/PLUGINS.md:\n  ${unexpected.join("\n  ")}`,
    );
    assert.deepEqual(stale, [], `${scope.plugin}: allow-list rows in tools/toolchain/PLUGINS.md that match no difference any more; remove them`);
  });

  test(`${scope.plugin} ${scope.version}: a change of each input replaces the resource exactly when the official provider does`, { skip }, async () => {
    const p = plugin(scope);
    const official = readFixture(scope);
    const wrong: string[] = [];
    let probed = 0;
    for (const resource of scope.resources) {
      const { cases, skipped } = probeCases(official, resource, scope.probe);
      assert.deepEqual(skipped, [], `${resource}: inputs the probe cannot write a value for`);
      for (const c of cases) {
        probed++;
        const same = outcomeFor(c.property, await p.diff(resource, c.olds, c.olds));
        const changed = outcomeFor(c.property, await p.diff(resource, c.olds, c.news));
        if (same.changed || same.replaced) wrong.push(`${resource}.${c.property}: a diff against identical inputs shows a change`);
        else if (!changed.changed) wrong.push(`${resource}.${c.property}: the change ${JSON.stringify(c.olds[c.property])} → ${JSON.stringify(c.news[c.property])} is not seen`);
        else if (changed.replaced !== c.expectReplace) {
          wrong.push(
            `${resource}.${c.property}: ${changed.replaced ? "replaces" : "updates in place"}, the official provider ${c.expectReplace ? `replaces (${c.replacingPaths.join(", ")})` : "updates in place"}`,
          );
        }
      }
    }
    assert.ok(probed > 0);
    // Allowed: an input our plugin updates in place where the official one replaces (PLUGINS.md, "…: updates in place").
    const allowedRuntime = allowList.filter((a) => a.plugin === scope.plugin && a.id.endsWith(RUNTIME_ROW));
    const unexplained = wrong.filter((w) => !allowedRuntime.some((a) => w.startsWith(`${a.id},`)));
    const staleRuntime = allowedRuntime.filter((a) => !wrong.some((w) => w.startsWith(`${a.id},`))).map((a) => a.id);
    assert.deepEqual(staleRuntime, [], `${scope.plugin}: allow-list rows in tools/toolchain/PLUGINS.md that match no run-time difference any more; remove them`);
    assert.deepEqual(unexplained, [], `${scope.plugin}: run-time replace decisions differ from the official provider's:\n  ${wrong.join("\n  ")}`);
  });
}

const docker = SCOPES.find((s) => s.plugin === "docker") as PluginScope;
const command = SCOPES.find((s) => s.plugin === "command") as PluginScope;

function kindsUnder(diff: DiffResult, property: string): string[] {
  return Object.entries(diff.detailed)
    .filter(([k]) => k === property || k.startsWith(`${property}.`) || k.startsWith(`${property}[`))
    .map(([k, kind]) => `${k}=${kind}`);
}

test("docker: a new healthcheck updates the database container in place; a new image replaces it (delete first)", { skip }, async () => {
  const p = plugin(docker);
  const container = "docker:index/container:Container";
  // The shape infra/components/database.ts declares.
  const db = {
    name: "slipway-db",
    image: "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    envs: ["POSTGRES_USER=app", "POSTGRES_DB=app"],
    volumes: [{ volumeName: "slipway-pgdata", containerPath: "/var/lib/postgresql/data" }],
    networksAdvanced: [{ name: "slipway-backend", aliases: ["db"] }],
    healthcheck: { tests: ["CMD-SHELL", "pg_isready -U app -d app"], interval: "1s", timeout: "3s", retries: 30, startPeriod: "2s" },
    wait: true,
    waitTimeout: 120,
    restart: "unless-stopped",
    stopTimeout: 30,
  };
  const healthcheck = await p.diff(container, db, { ...db, healthcheck: { ...db.healthcheck, interval: "2s", retries: 10, tests: ["CMD-SHELL", "pg_isready -U app"] } });
  assert.ok(!healthcheck.replaces.includes("healthcheck"), `healthcheck must not replace; replaces: ${healthcheck.replaces.join(", ")}`);
  const kinds = kindsUnder(healthcheck, "healthcheck");
  assert.ok(kinds.length > 0, "the healthcheck change is seen");
  assert.ok(kinds.every((k) => !k.endsWith("_REPLACE")), `in-place changes only: ${kinds.join(", ")}`);

  const image = await p.diff(container, db, { ...db, image: db.image.replace(/1/g, "2") });
  assert.ok(image.replaces.includes("image"), "a new image replaces the container");
  assert.equal(image.deleteBeforeReplace, true, "Container is delete-before-replace (its name is fixed)");
});

test("command: setting or removing triggers replaces; a changed trigger reruns the command in place (as upstream's go-provider diff does)", { skip }, async () => {
  const p = plugin(command);
  const cmd = "command:local:Command";
  const base = { create: "echo migrate", stdout: "", stderr: "" };
  const changed = await p.diff(cmd, { ...base, triggers: ["image:1"] }, { create: base.create, triggers: ["image:2"] });
  assert.deepEqual(changed.replaces, []);
  assert.deepEqual(kindsUnder(changed, "triggers"), ["triggers[0]=UPDATE"]);
  const added = await p.diff(cmd, base, { create: base.create, triggers: ["image:1"] });
  assert.deepEqual(added.replaces, ["triggers"]);
  const removed = await p.diff(cmd, { ...base, triggers: ["image:1"] }, { create: base.create });
  assert.deepEqual(removed.replaces, ["triggers"]);
});
