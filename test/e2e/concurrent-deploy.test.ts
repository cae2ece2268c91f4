// A second deploy while one is running is refused by the stack lock, with a message that says so,
// and the first finishes untouched. Uses a throwaway program with a slow command step so the two
// runs overlap for certain; the lock is the engine's (file backend), the same one `promote` meets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { engineAvailable, localStack, newBackendDir, repoRoot } from "../support/pulumi";

const program = `
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
const cfg = new pulumi.Config();
const c = new command.local.Command("slow", {
  create: \`sleep 8 && echo \${cfg.require("run")} >> \${cfg.require("log")}\`,
  triggers: [cfg.require("run")],
});
export const out = c.stdout;
`;

test("a second `up` while one runs is refused by the stack lock; the first completes", { timeout: 180_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const workDir = mkdtempSync(join(tmpdir(), "slipway-lock-"));
  const backendDir = newBackendDir("lock");
  t.after(() => {
    rmSync(workDir, { recursive: true, force: true });
    rmSync(backendDir, { recursive: true, force: true });
  });
  symlinkSync(join(repoRoot, "node_modules"), join(workDir, "node_modules"));
  writeFileSync(join(workDir, "package.json"), JSON.stringify({ name: "slipway-lock", private: true }));
  writeFileSync(join(workDir, "Pulumi.yaml"), "name: slipway-lock\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n    nodeargs: \"--import tsx\"\nmain: index.ts\n");
  writeFileSync(join(workDir, "index.ts"), program);
  const log = join(workDir, "runs.log");

  const first = await localStack({ workDir, stackName: "lock", backendDir });
  await first.setConfig("run", { value: "first" });
  await first.setConfig("log", { value: log });
  const running = first.up();
  // Let the first run take the lock and reach its slow step.
  await new Promise((r) => setTimeout(r, 4000));
  const second = await localStack({ workDir, stackName: "lock", backendDir });
  await assert.rejects(second.up(), (err: Error) => {
    assert.match(err.message, /locked/i, "the refusal says the stack is locked");
    return true;
  });
  const result = await running;
  assert.equal(result.summary.result, "succeeded");
  assert.equal(readFileSync(log, "utf8"), "first\n", "exactly one run executed the step");
  const again = await first.preview();
  assert.equal(again.changeSummary.update ?? 0, 0, "state is consistent afterwards: nothing to do");
  assert.equal(again.changeSummary.create ?? 0, 0);
});
