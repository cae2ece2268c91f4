// Verbs never create a stack by accident: a typo in --stack is an error that names the stacks there are
// and how to create one on purpose; nothing is created (no stack in the backend, no Pulumi.<typo>.yaml).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";
import { projectStack } from "../support/project-stack";

test("promote --stack <typo> names the existing stacks and `pulumi stack init`, and creates nothing", { timeout: 120_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const ps = await projectStack("staging", { environment: "staging" });
  t.after(() => ps.cleanup());
  const verb = (name: string, args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", `src/cli/${name}.ts`, ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir },
      timeout: 60_000,
    });

  for (const [name, args] of [
    ["promote", ["--stack", "stagign", "--image", "registry.example.com/slipway/api:0123456789ab"]],
    ["rollback", ["--stack", "stagign", "--dry-run"]],
  ] as const) {
    const r = verb(name, [...args]);
    assert.equal(r.status, 1, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /stack "stagign" does not exist\. Existing stacks \(pulumi stack ls\): staging\. Create it on purpose with: (\. tools\/env\.sh && )?pulumi stack init stagign/, name);
  }
  const stacks = readdirSync(join(ps.backendDir, ".pulumi", "stacks"), { recursive: true }).map(String);
  assert.ok(!stacks.some((f) => f.includes("stagign")), `no stack was created: ${stacks.join(", ")}`);
  assert.ok(!existsSync(join(ps.workDir, "Pulumi.stagign.yaml")), "no stack file was created");
});
