// tools/toolchain.sh stops with one clear line when something it needs is missing, and leaves no
// half-built binary behind. Runs against an empty build cache so it must try to build the CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../support/pulumi";

function toolchain(env: Record<string, string>) {
  const cache = mkdtempSync(join(tmpdir(), "slipway-cache-"));
  const r = spawnSync("bash", ["tools/toolchain.sh", "--no-docker"], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, SLIPWAY_CACHE: cache, ...env },
    timeout: 120_000,
  });
  const left = readdirSync(join(cache, "toolchain"));
  rmSync(cache, { recursive: true, force: true });
  return { code: r.status, stderr: r.stderr, left };
}

test("no Go toolchain: one line saying what is missing and how to fix it", () => {
  const r = toolchain({ PATH: "/usr/bin:/bin" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^toolchain: Go >= 1\.25 is needed to build the Pulumi engine from modules; install it .* and put it on PATH$/m);
  assert.deepEqual(r.left, [], "nothing left in the cache");
});

test("no module proxy: says GOPROXY is off", () => {
  const r = toolchain({ GOPROXY: "off" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^toolchain: GOPROXY is off; the engine is built from modules through a Go module proxy$/m);
  assert.deepEqual(r.left, []);
});

test("an unknown option is refused with the usage", () => {
  const r = spawnSync("bash", ["tools/toolchain.sh", "--frobnicate"], { cwd: repoRoot, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option --frobnicate[\s\S]*Usage: bash tools\/toolchain\.sh/);
});
