// `npm run promote` to a stack whose slipway:environment is production (whatever its name) refuses an image that
// never ran successfully on staging, before touching that stack (which is never even created), and says how to proceed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";
import { projectStack } from "../support/project-stack";

test("promote to production refuses an image staging never ran, and leaves production alone", { timeout: 120_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  // A project whose only stack is `staging`, never deployed.
  const ps = await projectStack("staging", { environment: "staging" });
  t.after(() => ps.cleanup());
  const image = `registry.example.com/slipway/api:${randomBytes(6).toString("hex")}`;
  const promote = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "src/cli/promote.ts", ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir },
      timeout: 60_000,
    });

  // No stack file and no stack: said as a missing stack, never guessed production (or not) from the name.
  const unknown = promote(["--stack", "production", "--image", image]);
  assert.equal(unknown.status, 1, unknown.stderr);
  assert.match(unknown.stderr, /stack "production" does not exist/);
  // Production by environment, under any name: the gate applies (`live`), and a stack called production that
  // is not production has none to pass (checked by the unit tests: promotionSource).
  writeFileSync(join(ps.workDir, "Pulumi.production.yaml"), "config:\n  slipway:environment: production\n");
  writeFileSync(join(ps.workDir, "Pulumi.live.yaml"), "config:\n  slipway:environment: production\n");
  const live = promote(["--stack", "live", "--image", image]);
  assert.equal(live.status, 1, live.stderr);
  assert.match(live.stderr, /has never been deployed successfully to stack "staging"/);

  const r = promote(["--stack", "production", "--image", image]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`${image.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} has never been deployed successfully to stack "staging"; deploy it there first .*--force`));
  const stacks = readdirSync(join(ps.backendDir, ".pulumi", "stacks"), { recursive: true }).map(String);
  assert.ok(!stacks.some((f) => f.includes("production") || f.includes("live")), `production and live were not created: ${stacks.join(", ")}`);

  const missing = promote(["--stack", "production", "--image", image, "--from", "qa"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /stack "qa" does not exist, so .* cannot have run there/);
  assert.ok(!existsSync(join(ps.workDir, "Pulumi.qa.yaml")), "the source stack is not created by the check");
});
