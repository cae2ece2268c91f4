// Verbs never create a stack by accident: a typo in --stack is an error that names the stacks there are
// and how to create one on purpose; nothing is created (no stack in the backend, no Pulumi.<typo>.yaml). And the
// images they write (setImages) keep the others, whether the stack holds them as YAML or as JSON text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";
import { projectStack } from "../support/project-stack";
import { setImages } from "../../src/release/stack";

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

test("promote and rollback set an image and keep the others, whether slipway:images is YAML or JSON text", { timeout: 120_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = { api: "slipway/api:1", edge: "slipway/edge:1", postgres: "slipway-local/postgres:17" };
  const ps = await projectStack("imgs", { environment: "staging", images });
  t.after(() => ps.cleanup());
  const read = async () => JSON.parse((await ps.stack.getConfig("slipway:images")).value) as Record<string, string>;
  await setImages(ps.stack, { api: "slipway/api:2" });
  assert.deepEqual(await read(), { ...images, api: "slipway/api:2" }, "a YAML object");
  assert.match(readFileSync(join(ps.workDir, "Pulumi.imgs.yaml"), "utf8"), /slipway:images:\n\s+api: slipway\/api:2\n\s+edge: slipway\/edge:1/);
  // What `pulumi config set slipway:images '{…}'` stores: JSON text (the program reads it alike).
  await ps.stack.setConfig("slipway:images", { value: JSON.stringify(images) });
  await setImages(ps.stack, { api: "slipway/api:3", edge: "slipway/edge:3" });
  assert.deepEqual(await read(), { api: "slipway/api:3", edge: "slipway/edge:3", postgres: images.postgres }, "JSON text: the postgres image kept");
  await ps.stack.setConfig("slipway:images", { value: "slipway/api:4" });
  await assert.rejects(setImages(ps.stack, { api: "slipway/api:5" }), /slipway:images is not an object of image references \(slipway\/api:4\)/);
});
