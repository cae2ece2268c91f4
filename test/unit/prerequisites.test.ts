// The one skip policy (test/support/prerequisites.ts): a missing prerequisite fails where CI is set and skips,
// saying why, only on a developer machine; nothing missing runs everywhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, isCi, missingCommand, PrerequisiteMissing, skipUnless } from "../support/prerequisites";

test("CI is set by any value but empty, 0 and false (GitHub Actions and .ci/run: CI=true)", () => {
  for (const v of ["true", "1", "yes", "TRUE"]) assert.equal(isCi({ CI: v }), true, v);
  for (const v of [undefined, "", "0", "false", "False", " "]) assert.equal(isCi({ CI: v }), false, String(v));
});

test("nothing missing: the test runs, in CI and on a developer machine", () => {
  for (const env of [{ CI: "true" }, {}]) {
    assert.deepEqual(decide([undefined, false, null, ""], env), { action: "run" });
    assert.equal(skipUnless([undefined, false], env), false);
    assert.equal(skipUnless(undefined, env), false);
  }
});

test("something missing on a developer machine: skipped with every reason and the policy stated", () => {
  assert.deepEqual(decide(["sshd is not installed", undefined, "needs root to mount a tmpfs"], {}), {
    action: "skip",
    reason: "sshd is not installed; needs root to mount a tmpfs",
  });
  const skip = skipUnless(["sshd is not installed (apt-get install openssh-server)"], { CI: "false" });
  assert.equal(skip, "sshd is not installed (apt-get install openssh-server) (a developer machine skips; with CI=true this fails)");
});

test("something missing with CI set: a failure naming what is missing, never a skip", () => {
  assert.deepEqual(decide(["the Pulumi toolchain is not built (bash tools/toolchain.sh)"], { CI: "true" }), {
    action: "fail",
    reason: "the Pulumi toolchain is not built (bash tools/toolchain.sh)",
  });
  assert.throws(
    () => skipUnless("dockerd is not installed", { CI: "true" }),
    (err: unknown) => err instanceof PrerequisiteMissing && /CI set .* fails rather than skips\): dockerd is not installed$/.test(err.message),
  );
});

test("missingCommand: a command that runs is there; one that does not names itself and how to install it", () => {
  assert.equal(missingCommand(process.execPath, ["--version"], "-"), undefined);
  assert.equal(missingCommand("slipway-no-such-command", ["--version"], "apt-get install nothing"), "slipway-no-such-command is not installed (apt-get install nothing)");
});
