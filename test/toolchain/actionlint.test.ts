// The toolchain tier (npm run test:toolchain): checks that need a binary tools/toolchain.sh builds. Here
// actionlint, built from its Go module into .slipway/toolchain/bin, is clean on every GitHub workflow.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..", "..");
const dir = join(root, ".github", "workflows");

test("actionlint (built by tools/toolchain.sh) is clean on every workflow", () => {
  const actionlint = join(root, ".slipway", "toolchain", "bin", "actionlint");
  assert.ok(existsSync(actionlint), `actionlint is missing at ${actionlint}: run \`bash tools/toolchain.sh\` (it builds actionlint from its Go module)`);
  const files = readdirSync(dir).map((f) => join(dir, f));
  const r = spawnSync(actionlint, ["-no-color", ...files], { cwd: root, encoding: "utf8" });
  assert.equal(r.error, undefined);
  assert.equal(r.status, 0, `actionlint:\n${r.stdout}${r.stderr}`);
});
