// Production refuses what it finds outside its config: secrets the local default passphrase opens, and a Docker
// engine reached over plain tcp:// — each naming the fix. The salts below were written by the real `pulumi stack init` (3.259.0) with "slipway-local" and with another passphrase.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadStackConfig, StackConfigError } from "../../stacks/load";
import { LOCAL_PASSPHRASE, saltOpensWith } from "../../stacks/secrets";
import { dockerConnection } from "../../src/docker/connect";

const LOCAL_SALT = "v1:Gf+TvFQ0H8Y=:v1:A4j3leDviFgMlmtx:bVwwqyFCEBD3JTIQ2oijJQD1X+GF8g==";
const OWN_SALT = "v1:YP9f8rrvyc0=:v1:cW6qibAc9U6W+FFc:3a2IyFsRGNskbQiexdOXYKnFiH+6Mw=="; // "not-the-default"

function stackFile(stack: string): Record<string, unknown> {
  const doc = parse(readFileSync(join(__dirname, "..", "..", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^slipway:/, ""), v]));
}

test("saltOpensWith: the local passphrase opens a salt Pulumi sealed with it, and nothing else", () => {
  assert.equal(saltOpensWith(LOCAL_SALT, LOCAL_PASSPHRASE), true);
  assert.equal(saltOpensWith(OWN_SALT, LOCAL_PASSPHRASE), false);
  assert.equal(saltOpensWith(OWN_SALT, "not-the-default"), true);
  for (const junk of [undefined, "", "v1:abc", "v1:a:v1:b:c", "v2:Gf+TvFQ0H8Y=:v1:A4j3leDviFgMlmtx:bVwwqyFCEBD3JTIQ2oijJQD1X+GF8g=="]) {
    assert.equal(saltOpensWith(junk, LOCAL_PASSPHRASE), false, String(junk));
  }
});

test("a production stack sealed with the local passphrase is refused, naming the stack file and the fix", () => {
  assert.throws(
    () => loadStackConfig("production", stackFile("production"), () => ({ localPassphrase: saltOpensWith(LOCAL_SALT, LOCAL_PASSPHRASE) })),
    (e: unknown) => {
      assert.ok(e instanceof StackConfigError);
      assert.match(e.message, /stack "production"/);
      assert.match(e.message, /encryptionsalt \(Pulumi\.production\.yaml\): the stack's secrets are sealed with the local default passphrase "slipway-local"/);
      assert.match(e.message, /pulumi stack change-secrets-provider --stack production passphrase/);
      return true;
    },
  );
});

test("production with its own passphrase, and staging with the local one, are fine; staging never pays for the check", () => {
  assert.equal(loadStackConfig("production", stackFile("production"), () => ({ localPassphrase: saltOpensWith(OWN_SALT, LOCAL_PASSPHRASE) })).environment, "production");
  assert.equal(loadStackConfig("staging", stackFile("staging"), () => assert.fail("checked for staging")).environment, "staging");
});

/** What infra/index.ts computes: plain TCP when the connection the engines would use is unencrypted HTTP. */
function transport(dockerHost: string, env: Record<string, string> = {}) {
  const kind = dockerConnection(dockerHost, { env, home: "/nonexistent", user: "deploy", readFile: (f) => (f.endsWith("ca.pem") ? Buffer.from("ca") : undefined) }).kind;
  return kind === "http" ? { plainTcp: { from: "slipway:dockerHost" as const, host: dockerHost } } : {};
}

test("production refuses a plain tcp:// Docker host, naming the key and the transports it accepts", () => {
  const raw = { ...stackFile("production"), dockerHost: "tcp://10.0.0.5:2375" };
  assert.throws(
    () => loadStackConfig("production", raw, (c) => ({ localPassphrase: false, ...transport(c.dockerHost!) })),
    (e: unknown) => {
      assert.ok(e instanceof StackConfigError);
      assert.match(e.message, /slipway:dockerHost: "tcp:\/\/10\.0\.0\.5:2375" is plain TCP: the database password, secretEnv and the TLS key would cross the network in clear/);
      assert.match(e.message, /ssh:\/\/user@host/);
      return true;
    },
  );
  // TLS, SSH-free unix sockets and staging are fine.
  for (const [host, env] of [["tcp://10.0.0.5:2376", { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }], ["https://10.0.0.5:2376", {}], ["unix:///var/run/docker.sock", {}]] as const) {
    assert.doesNotThrow(() => loadStackConfig("production", { ...raw, dockerHost: host }, (c) => ({ localPassphrase: false, ...transport(c.dockerHost!, env) })), host);
  }
  assert.doesNotThrow(() => loadStackConfig("staging", { ...stackFile("staging"), dockerHost: "tcp://10.0.0.5:2375" }, (c) => ({ localPassphrase: false, ...transport(c.dockerHost!) })));
});

test("production from a hosted CI runner needs backup.copyTo: the runner's backup.dir is thrown away with it", () => {
  const raw = stackFile("production");
  assert.throws(
    () => loadStackConfig("production", raw, () => ({ localPassphrase: false, hostedRunner: true })),
    /slipway:backup\.copyTo: is required when production deploys from a hosted CI runner: backup\.dir \/var\/backups\/slipway is on the runner and is thrown away/,
  );
  const withCopy = { ...raw, backup: { ...(raw.backup as object), copyTo: "sftp:backups/slipway" } };
  assert.doesNotThrow(() => loadStackConfig("production", withCopy, () => ({ localPassphrase: false, hostedRunner: true })));
  assert.doesNotThrow(() => loadStackConfig("production", raw, () => ({ localPassphrase: false, hostedRunner: false })), "a self-hosted runner or a person's machine keeps its disk");
});
