// tools/env.sh decides like chooseEngine (src/release/stack.ts): the project's local defaults only with the
// air-gapped toolchain; the official CLI's set-up untouched; no local passphrase for a remote backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function checkout(opts: { toolchain: boolean }): string {
  const root = mkdtempSync(join(tmpdir(), "slipway-envsh-"));
  mkdirSync(join(root, "tools"));
  copyFileSync(join(__dirname, "..", "..", "tools", "env.sh"), join(root, "tools", "env.sh"));
  if (opts.toolchain) {
    mkdirSync(join(root, ".slipway", "toolchain", "bin"), { recursive: true });
    writeFileSync(join(root, ".slipway", "toolchain", "bin", "pulumi"), "#!/bin/sh\n");
    chmodSync(join(root, ".slipway", "toolchain", "bin", "pulumi"), 0o755);
  }
  return root;
}

/** Sources env.sh in a clean environment and reports what it exported. */
function source(root: string, env: Record<string, string> = {}, otherPulumi = false) {
  let path = "/usr/bin:/bin";
  if (otherPulumi) {
    const bin = join(root, "official-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "pulumi"), "#!/bin/sh\n");
    chmodSync(join(bin, "pulumi"), 0o755);
    path = `${bin}:${path}`;
  }
  const script = '. "$1/tools/env.sh"; for v in SLIPWAY_TOOLCHAIN PULUMI_HOME PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION PATH; do echo "$v=${!v:-}"; done';
  const r = spawnSync("bash", ["-c", script, "bash", root], { env: { HOME: root, PATH: path, ...env }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

test("env.sh with the toolchain built and nothing set: the project's local defaults", (t) => {
  const root = checkout({ toolchain: true });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const e = source(root);
  assert.equal(e.SLIPWAY_TOOLCHAIN, "air-gapped");
  assert.equal(e.PULUMI_HOME, join(root, ".slipway", "pulumi-home"));
  assert.equal(e.PULUMI_BACKEND_URL, `file://${join(root, ".slipway", "state")}`);
  assert.equal(e.PULUMI_CONFIG_PASSPHRASE, "slipway-local");
  assert.equal(e.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, "true");
  assert.ok(e.PATH!.startsWith(join(root, ".slipway", "toolchain", "bin") + ":"));
});

test("env.sh with the official CLI (no toolchain, or the user's own backend and another pulumi): nothing Pulumi-related changes", (t) => {
  const bare = checkout({ toolchain: false });
  const built = checkout({ toolchain: true });
  t.after(() => [bare, built].forEach((r) => rmSync(r, { recursive: true, force: true })));
  for (const e of [
    source(bare, {}, true),
    source(built, { PULUMI_BACKEND_URL: "s3://bucket/slipway" }, true),
    source(built, { SLIPWAY_TOOLCHAIN: "official" }, true),
  ]) {
    assert.equal(e.SLIPWAY_TOOLCHAIN === "air-gapped", false);
    assert.equal(e.PULUMI_HOME, "");
    assert.equal(e.PULUMI_CONFIG_PASSPHRASE, "");
    assert.equal(e.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, "");
    assert.ok(!e.PATH!.includes(".slipway"));
  }
});

test("env.sh never sets the local passphrase for a remote backend", (t) => {
  const root = checkout({ toolchain: true });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const e = source(root, { PULUMI_BACKEND_URL: "s3://bucket/slipway" }); // only our toolchain on PATH: still ours
  assert.equal(e.SLIPWAY_TOOLCHAIN, "air-gapped");
  assert.equal(e.PULUMI_BACKEND_URL, "s3://bucket/slipway");
  assert.equal(e.PULUMI_HOME, join(root, ".slipway", "pulumi-home"));
  assert.equal(e.PULUMI_CONFIG_PASSPHRASE, "");
});
