// A provider process whose `pulumi` parent was killed exits instead of acting on Docker behind the next run.
// Real processes: a parent that starts a child calling exitWhenOrphaned, then the parent is killed with SIGKILL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";

const orphan = join(__dirname, "..", "..", "src", "vocabulary", "orphan.ts");

test("exitWhenOrphaned: the child exits within seconds of its parent's SIGKILL", { timeout: 30_000 }, async () => {
  const childCode = `require(${JSON.stringify(orphan)}).exitWhenOrphaned(() => {}); console.log(process.pid); setInterval(() => {}, 1000);`;
  const parentCode = `const c = require("node:child_process").spawn(process.execPath, ["--import", "tsx", "-e", ${JSON.stringify(childCode)}], { stdio: ["ignore", "inherit", "inherit"] }); setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["-e", parentCode], { stdio: ["ignore", "pipe", "inherit"] });
  const childPid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim())));
    parent.once("exit", () => reject(new Error("parent exited early")));
  });
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  assert.ok(alive(childPid), "the child runs while its parent lives");
  parent.kill("SIGKILL");
  const deadline = Date.now() + 10_000;
  while (alive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const stillAlive = alive(childPid);
  if (stillAlive) process.kill(childPid, "SIGKILL");
  assert.equal(stillAlive, false, "the orphaned child exited");
});
