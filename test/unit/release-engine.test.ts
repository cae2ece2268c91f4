// Which Pulumi the verbs use, and with which environment: the project's local defaults only with the
// air-gapped toolchain; the official CLI untouched; a remote backend never gets the local passphrase.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseEngine, LOCAL_PASSPHRASE, secretsProblem } from "../../src/release/stack";

const projectDir = "/src/slipway";

test("air-gapped toolchain built, nothing set by the user: the project's defaults", () => {
  const c = chooseEngine({ env: { HOME: "/root" }, projectDir, toolchainBuilt: true });
  assert.equal(c.toolchain, "air-gapped");
  assert.equal(c.root, "/src/slipway/.slipway/toolchain");
  assert.deepEqual(c.env, {
    PULUMI_HOME: "/src/slipway/.slipway/pulumi-home",
    PULUMI_BACKEND_URL: "file:///src/slipway/.slipway/state",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE,
  });
  assert.equal(c.backendUrl, "file:///src/slipway/.slipway/state");
});

test("the user's passphrase is kept: no local default on top of it", () => {
  for (const env of [{ PULUMI_CONFIG_PASSPHRASE: "mine" }, { PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/p" }]) {
    const c = chooseEngine({ env, projectDir, toolchainBuilt: true });
    assert.equal(c.toolchain, "air-gapped");
    assert.equal(c.env.PULUMI_CONFIG_PASSPHRASE, undefined);
  }
});

test("the official CLI: nothing is added — ~/.pulumi, `pulumi login` and plugin downloads stay as Pulumi has them", () => {
  const c = chooseEngine({ env: { HOME: "/home/me", PATH: "/home/me/.pulumi/bin:/usr/bin" }, projectDir, toolchainBuilt: false });
  assert.deepEqual(c, { toolchain: "official", env: {} });
});

test("the user's PULUMI_HOME or PULUMI_BACKEND_URL and another pulumi on PATH mean their own set-up, even with the toolchain built", () => {
  for (const env of [{ PULUMI_HOME: "/home/me/.pulumi" }, { PULUMI_BACKEND_URL: "s3://bucket/slipway" }, { PULUMI_BACKEND_URL: "file:///srv/state" }]) {
    const c = chooseEngine({ env, projectDir, toolchainBuilt: true, otherPulumiOnPath: true });
    assert.deepEqual(c, { toolchain: "official", env: {} }, JSON.stringify(env));
  }
});

test("the user's backend with only our toolchain around: still our toolchain (and its plugins), their backend kept", () => {
  const c = chooseEngine({ env: { PULUMI_BACKEND_URL: "s3://bucket/slipway" }, projectDir, toolchainBuilt: true, otherPulumiOnPath: false });
  assert.equal(c.toolchain, "air-gapped");
  assert.equal(c.env.PULUMI_BACKEND_URL, "s3://bucket/slipway");
  assert.equal(c.env.PULUMI_HOME, "/src/slipway/.slipway/pulumi-home");
  assert.equal(c.env.PULUMI_CONFIG_PASSPHRASE, undefined, "no local passphrase for a remote backend");
  const home = chooseEngine({ env: { PULUMI_HOME: "/srv/pulumi" }, projectDir, toolchainBuilt: true, otherPulumiOnPath: false });
  assert.equal(home.env.PULUMI_HOME, "/srv/pulumi");
});

test("SLIPWAY_TOOLCHAIN forces either side", () => {
  assert.equal(chooseEngine({ env: { SLIPWAY_TOOLCHAIN: "official" }, projectDir, toolchainBuilt: true }).toolchain, "official");
  // tools/env.sh exported it together with PULUMI_HOME and the backend: the verbs agree with the shell.
  const shell = chooseEngine({
    env: { SLIPWAY_TOOLCHAIN: "air-gapped", PULUMI_HOME: "/src/slipway/.slipway/pulumi-home", PULUMI_BACKEND_URL: "file:///src/slipway/.slipway/state" },
    projectDir,
    toolchainBuilt: true,
  });
  assert.equal(shell.toolchain, "air-gapped");
  assert.equal(shell.env.PULUMI_HOME, "/src/slipway/.slipway/pulumi-home");
  assert.equal(shell.env.PULUMI_CONFIG_PASSPHRASE, LOCAL_PASSPHRASE);
});

test("air-gapped toolchain with a remote backend: no local passphrase default", () => {
  const c = chooseEngine({ env: { SLIPWAY_TOOLCHAIN: "air-gapped", PULUMI_BACKEND_URL: "s3://bucket/slipway" }, projectDir, toolchainBuilt: true });
  assert.equal(c.toolchain, "air-gapped");
  assert.equal(c.env.PULUMI_BACKEND_URL, "s3://bucket/slipway");
  assert.equal(c.env.PULUMI_CONFIG_PASSPHRASE, undefined);
});

test("secrets: a local file backend never needs more", () => {
  assert.equal(secretsProblem("staging", "file:///src/slipway/.slipway/state", {}, {}), undefined);
  assert.equal(secretsProblem("staging", "file://~", {}, { encryptionsalt: "v1:abc" }), undefined);
});

test("secrets: a remote DIY backend with a passphrase stack and no passphrase is an error naming the fixes", () => {
  for (const url of ["s3://bucket/slipway", "gs://bucket", "azblob://container", "postgres://db/state"]) {
    for (const file of [{}, { encryptionsalt: "v1:abc" }, { secretsprovider: "passphrase" }]) {
      const p = secretsProblem("production", url, {}, file);
      assert.ok(p, `${url} ${JSON.stringify(file)}`);
      assert.match(p, new RegExp(`stack "production" is on the remote backend ${url.replace(/[/.]/g, "\\$&")}`));
      assert.match(p, /PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set/);
      assert.match(p, /pulumi stack change-secrets-provider --stack production/);
    }
  }
});

test("secrets: the local default passphrase is refused on a remote backend", () => {
  const p = secretsProblem("production", "s3://bucket/slipway", { PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE }, { encryptionsalt: "v1:abc" });
  assert.match(p ?? "", /local default "slipway-local"/);
  assert.match(secretsProblem("production", "https://api.pulumi.com", { PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE }, {}) ?? "", /local default/);
});

test("secrets: the user's passphrase, a KMS provider, or the Pulumi service's own provider are fine", () => {
  assert.equal(secretsProblem("p", "s3://b", { PULUMI_CONFIG_PASSPHRASE: "theirs" }, { encryptionsalt: "v1:x" }), undefined);
  assert.equal(secretsProblem("p", "s3://b", { PULUMI_CONFIG_PASSPHRASE_FILE: "/run/p" }, {}), undefined);
  assert.equal(secretsProblem("p", "s3://b", {}, { secretsprovider: "awskms://alias/slipway?region=eu-west-1" }), undefined);
  assert.equal(secretsProblem("p", "https://api.pulumi.com", {}, {}), undefined);
  assert.equal(secretsProblem("p", "https://api.pulumi.com", {}, { secretsprovider: "service" }), undefined);
  // …but a service stack created with a passphrase still needs it.
  assert.ok(secretsProblem("p", "https://api.pulumi.com", {}, { encryptionsalt: "v1:x" }));
});
