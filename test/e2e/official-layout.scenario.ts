// Run by official-layout.test.ts in the official layout (HOME with ~/.pulumi/bin and ~/.pulumi/plugins,
// no .slipway path on PATH, PULUMI_HOME unset, SLIPWAY_E2E_IMAGES = the api/edge/postgres refs).
// Not matched by test/e2e/*.test.ts: it only makes sense in that environment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { engineEnv, officialEngine, pulumiBinary, pulumiCli, pulumiCommand, repoRoot } from "../support/pulumi";
import { freePort, projectStack, smallStackConfig } from "../support/project-stack";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const take = (b: Buffer) => {
      out += b.toString();
      process.stderr.write(b);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
  });
}

test("in the official layout: promote deploys, the preview after is empty, a plain up from a fresh copy of the stack file changes nothing", { timeout: 1_100_000 }, async (t) => {
  assert.ok(officialEngine, "SLIPWAY_TOOLCHAIN=official (set by official-layout.test.ts)");
  assert.equal(pulumiBinary(), join(homedir(), ".pulumi", "bin", "pulumi"), "the CLI comes from ~/.pulumi/bin");
  assert.equal(process.env.PULUMI_HOME, undefined);
  assert.ok(homedir().startsWith(tmpdir()), `HOME is a fresh directory: ${homedir()}`);
  assert.ok(!(process.env.PATH ?? "").includes(".slipway"), `no .slipway path on PATH: ${process.env.PATH}`);
  const images = JSON.parse(process.env.SLIPWAY_E2E_IMAGES ?? "null") as { api: string; edge: string; postgres: string } | null;
  assert.ok(images, "SLIPWAY_E2E_IMAGES");

  // The stack file (as committed in git) names image A; promote deploys B, a newer build.
  const name = `off${randomBytes(3).toString("hex")}`;
  const promoted = `slipway/api:official-${name}`;
  execFileSync("docker", ["tag", images.api, promoted]);
  const port = await freePort();
  const ps = await projectStack(name, smallStackConfig({ images, port, replicas: 1 }));
  const fresh = mkdtempSync(join(tmpdir(), `slipway-${name}-fresh-`));
  t.after(async () => {
    await ps.stack.destroy({ onOutput: (s) => process.stderr.write(s) }).catch((e: Error) => process.stderr.write(`destroy: ${e.message}\n`));
    await ps.cleanup();
    rmSync(fresh, { recursive: true, force: true });
    execFileSync("docker", ["rmi", promoted], { stdio: "ignore" });
  });

  // As a user of the official CLI does: `pulumi login` (here a file backend) and their own passphrase.
  execFileSync(pulumiBinary()!, ["login", `file://${ps.backendDir}`], { stdio: "pipe" });
  const verbEnv: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_PROJECT_DIR: ps.workDir, PULUMI_CONFIG_PASSPHRASE: engineEnv(ps.backendDir).PULUMI_CONFIG_PASSPHRASE };
  delete verbEnv.SLIPWAY_TOOLCHAIN; // the verbs decide on their own: no toolchain in that checkout → official
  const r = await run(process.execPath, ["--import", "tsx", "src/cli/promote.ts", "--stack", name, "--image", promoted], verbEnv);
  assert.equal(r.code, 0, "promote failed (output above)");
  assert.match(r.out, new RegExp(`promoted ${promoted.replace(/[.:/]/g, "\\$&")} to ${name}: http://127\\.0\\.0\\.1:${port}/health`));

  // promote wrote B into the stack file — what CI commits.
  const stackFile = join(ps.workDir, `Pulumi.${name}.yaml`);
  const config = (parse(readFileSync(stackFile, "utf8")) as { config: Record<string, { api?: string }> }).config;
  assert.equal(config["slipway:images"]?.api, promoted);

  // Nothing the providers read back differently.
  await ps.stack.preview({ expectNoChanges: true });
  const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(health.status, 200);

  // A fresh checkout with that stack file: a plain `pulumi up` by hand changes nothing (no rollback to A).
  for (const entry of ["infra", "stacks", "src", "node_modules", "package.json", "tsconfig.json"]) symlinkSync(join(repoRoot, entry), join(fresh, entry));
  copyFileSync(join(repoRoot, "Pulumi.yaml"), join(fresh, "Pulumi.yaml"));
  copyFileSync(stackFile, join(fresh, `Pulumi.${name}.yaml`));
  await pulumiCli({ stackName: name, workDir: fresh, backendDir: ps.backendDir }, ["up", "--yes", "--expect-no-changes"]);
  const again = await LocalWorkspace.selectStack({ stackName: name, workDir: fresh }, { pulumiCommand: await pulumiCommand(), envVars: engineEnv(ps.backendDir) });
  const outputs = await again.outputs();
  assert.equal(outputs.image?.value, promoted, "the stack still runs the promoted image");
});
