// The toolchain tier (npm run test:toolchain): promtool, from Debian's `prometheus` package that the apt step of
// tools/toolchain.sh installs, on the alert rules (`promtool test rules monitoring/alerts.test.yml`) and on the
// Prometheus config the program renders (`promtool check config`). A missing promtool fails, never skips.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { alertRules, MONITORING_DIR, prometheusFiles } from "../../infra/components/monitoring";
import { alertRuleCount, STAGING_PROMETHEUS_VALUES } from "../support/monitoring";

/** Every rule of monitoring/alerts.yml loaded, counted from the file itself. */
const ALL_RULES = new RegExp(`SUCCESS: ${alertRuleCount()} rules found`);

const INSTALL_HINT =
  "promtool not found on PATH: it comes with Debian's `prometheus` package — install it with " +
  "`apt-get install -y --no-install-recommends prometheus` (the apt step of tools/toolchain.sh)";

/** Runs promtool; a missing promtool fails the test with the install step, never skips it. */
function promtool(args: string[], cwd = MONITORING_DIR): string {
  const run = spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: 60_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") assert.fail(INSTALL_HINT);
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, `promtool ${args.join(" ")} failed:\n${output}`);
  return output;
}

test("alert rules: promtool check rules and promtool test rules monitoring/alerts.test.yml pass", () => {
  assert.match(promtool(["check", "rules", "alerts.yml"]), ALL_RULES);
  assert.match(promtool(["test", "rules", "alerts.test.yml"]), /SUCCESS/);
});

test("the rendered Prometheus config with its rules beside it: promtool check config passes", () => {
  const files = prometheusFiles(STAGING_PROMETHEUS_VALUES);
  const dir = mkdtempSync(join(tmpdir(), "slipway-prometheus-"));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    const out = promtool(["check", "config", "prometheus.yml"], dir);
    assert.match(out, /SUCCESS: prometheus\.yml is valid/);
    assert.match(out, ALL_RULES);
    assert.match(out, /SUCCESS: 1 rules found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the rules with a stack's monitoring.alertFor written in: promtool check rules passes", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-rules-"));
  try {
    writeFileSync(join(dir, "alerts.yml"), alertRules({ ApiReplicasMissing: 20, BackupTooOld: 0 }));
    assert.match(promtool(["check", "rules", "alerts.yml"], dir), ALL_RULES);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
