// The real engine end to end on a throwaway stack: a Docker network (@pulumi/docker), a random
// password (@pulumi/random), a local.Command (@pulumi/command) and a trivial dynamic resource.
// Proves the toolchain (CLI, our language host, the dynamic-provider launcher, the three plugins)
// works together, that secrets stay encrypted in the state file, and that destroy leaves nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { engineAvailable, localStack, newBackendDir, repoRoot } from "../support/pulumi";

const program = `
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import * as command from "@pulumi/command";

const cfg = new pulumi.Config();
const network = new docker.Network("net", { name: cfg.require("networkName") });
const password = new random.RandomPassword("pw", { length: 24, special: false });
const marker = cfg.require("markerFile");
const cmd = new command.local.Command("cmd", {
  create: \`echo created > \${marker}\`,
  delete: \`echo deleted > \${marker}\`,
});
const echo: pulumi.dynamic.ResourceProvider = {
  async create(inputs: any) {
    return { id: "smoke-echo", outs: { value: inputs.value, length: String(inputs.value).length } };
  },
};
class Echo extends pulumi.dynamic.Resource {
  declare readonly length: pulumi.Output<number>;
  constructor(name: string, value: pulumi.Input<string>) {
    super(echo, name, { value, length: undefined });
  }
}
const e = new Echo("echo", network.name);
export const networkId = network.id;
export const passwordValue = password.result;
export const stdout = cmd.stdout;
export const echoLength = e.length;
`;

test("the real engine: docker, random, command and a dynamic resource on a throwaway stack", { timeout: 300_000 }, async (t) => {
  if (!engineAvailable()) {
    assert.fail("the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  }
  const suffix = randomBytes(4).toString("hex");
  const workDir = mkdtempSync(join(tmpdir(), "slipway-smoke-"));
  const backendDir = newBackendDir("smoke");
  const networkName = `slipway-smoke-${suffix}`;
  const markerFile = join(workDir, "marker.txt");
  symlinkSync(join(repoRoot, "node_modules"), join(workDir, "node_modules"));
  writeFileSync(join(workDir, "package.json"), JSON.stringify({ name: "slipway-smoke", private: true }));
  writeFileSync(
    join(workDir, "Pulumi.yaml"),
    "name: slipway-smoke\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n    nodeargs: \"--import tsx\"\nmain: index.ts\n",
  );
  writeFileSync(join(workDir, "index.ts"), program);

  const docker = new Docker();
  const stack = await localStack({ workDir, stackName: "smoke", backendDir });
  t.after(async () => {
    await stack.destroy().catch(() => undefined);
    await docker.getNetwork(networkName).remove().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
    rmSync(backendDir, { recursive: true, force: true });
  });
  await stack.setConfig("networkName", { value: networkName });
  await stack.setConfig("markerFile", { value: markerFile });

  const up = await stack.up();
  assert.equal(up.summary.result, "succeeded");

  // The network really exists in Docker, with the id Pulumi recorded.
  const info = await docker.getNetwork(networkName).inspect();
  assert.equal(info.Id, up.outputs.networkId!.value);

  // The command ran (create), and the dynamic resource computed its output.
  assert.equal(readFileSync(markerFile, "utf8").trim(), "created");
  assert.equal(up.outputs.echoLength!.value, networkName.length);

  // The password is a secret: marked so in the outputs, and encrypted in the state file.
  const pw = up.outputs.passwordValue!;
  assert.equal(pw.secret, true);
  assert.equal(typeof pw.value, "string");
  assert.equal((pw.value as string).length, 24);
  const stateFiles = readdirSync(join(backendDir, ".pulumi", "stacks"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".json"));
  assert.ok(stateFiles.length > 0, "a state file was written");
  for (const f of stateFiles) {
    const text = readFileSync(join(backendDir, ".pulumi", "stacks", f), "utf8");
    assert.ok(!text.includes(pw.value as string), `plaintext password found in ${f}`);
  }

  const destroyed = await stack.destroy();
  assert.equal(destroyed.summary.result, "succeeded");
  await assert.rejects(docker.getNetwork(networkName).inspect(), /no such network|404/i, "network removed");
  assert.equal(readFileSync(markerFile, "utf8").trim(), "deleted", "the command's delete ran");
  assert.ok(existsSync(markerFile));
});
