// bench/failure.ts: a failed bench step is printed as the program's own error, not the Automation API's preamble.
import { test } from "node:test";
import assert from "node:assert/strict";
import { reason } from "../../bench/failure";

test("an Automation API error: the program's error line and the key lines under it", () => {
  const text = [
    "code: -2",
    " stdout: ",
    " stderr: Command failed with exit code 1: /x/pulumi up --yes --skip-preview --stack bz320541 --non-interactive",
    "Updating (bz320541):",
    "    pulumi:pulumi:Stack slipway-bz320541 running error: stack \"bz320541\" has invalid configuration:",
    "Diagnostics:",
    "  pulumi:pulumi:Stack (slipway-bz320541):",
    "    error: stack \"bz320541\" has invalid configuration:",
    "      - slipway:api.env.PGPOOL_MAX: Invalid input: expected string, received number",
    "    Fix Pulumi.bz320541.yaml (or `pulumi config set --stack bz320541 ...`) and run again.",
  ].join("\n");
  assert.equal(reason(text), 'error: stack "bz320541" has invalid configuration: - slipway:api.env.PGPOOL_MAX: Invalid input: expected string, received number');
});

test("a failed release: its own error, not the engine's summary nor the outputs listed after it", () => {
  const text = [
    "Diagnostics:",
    "  pulumi-nodejs:dynamic/slipway:SwarmRelease (api):",
    "    error: release of slipway/api:x-broken to s-api-a failed: 3 tasks failed; the last on slipway-lab-1: task: non-zero exit (3) (exit code 3); the serving release is unchanged.",
    "  pulumi:pulumi:Stack (slipway-s):",
    "    error: update failed",
    "Outputs:",
    "  - apiContainers: [",
  ].join("\n");
  assert.match(reason(text), /^error: release of slipway\/api:x-broken .* \(exit code 3\); the serving release is unchanged\.$/);
  assert.equal(reason("Diagnostics:\n    error: update failed\nOutputs:\n    -     [0]: \"x\""), "error: update failed");
});

test("anything else: its first line that says something", () => {
  assert.equal(reason("\nthe scale-up before it failed\nmore"), "the scale-up before it failed");
  assert.equal(reason("code: -2\n connect ECONNREFUSED /var/run/docker.sock"), "connect ECONNREFUSED /var/run/docker.sock");
});
