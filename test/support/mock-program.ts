// Runs the Pulumi program under Pulumi's mocks for one stack and prints, as JSON on stdout, every
// resource it registered (type, name, inputs, options) — or the error it stopped with.
// Usage: node --import tsx test/support/mock-program.ts <stack> [config-overrides.json]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { secretConfigKeys } from "../../stacks/schema";

const [stack, overridesFile] = process.argv.slice(2);
if (!stack) throw new Error("usage: mock-program.ts <stack> [overrides.json]");
const root = join(__dirname, "..", "..");
const doc = parse(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
const overrides = overridesFile ? (JSON.parse(readFileSync(overridesFile, "utf8")) as Record<string, unknown>) : {};
const config: Record<string, string> = {};
for (const [k, v] of Object.entries({ ...doc.config, ...overrides })) {
  if (v === null) continue; // an override of null removes the stack file's key
  config[k] = typeof v === "string" ? v : JSON.stringify(v);
}

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider?: string;
}
const resources: Registered[] = [];
// The keys slipway reads as Pulumi secrets are set as secrets (as `pulumi config set --secret` would).
pulumi.runtime.setAllConfig(config, secretConfigKeys.map((k) => `slipway:${k}`).filter((k) => k in config));
void pulumi.runtime.setMocks(
  {
    newResource(args) {
      resources.push({ type: args.type, name: args.name, inputs: args.inputs, ...(args.provider ? { provider: args.provider } : {}) });
      const state: Record<string, unknown> = { ...args.inputs };
      if (args.type === "random:index/randomPassword:RandomPassword") state.result = "mock-password-0123456789";
      if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = `sha256:mock-${String(args.inputs.name)}`;
      // Swarm assigns an overlay its subnet; the swarm target limits the edge's runtime API to the control network's.
      if (args.type === "docker:index/network:Network" && args.inputs.driver === "overlay") state.ipamConfigs = [{ subnet: "10.0.9.0/24" }];
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      return args.inputs;
    },
  },
  "slipway",
  stack,
  false,
);

process.on("beforeExit", () => {
  process.stdout.write(JSON.stringify({ resources }) + "\n");
  process.exit(0);
});
try {
  require(join(root, "infra", "index.ts"));
} catch (e) {
  process.stdout.write(JSON.stringify({ error: (e as Error).message }) + "\n");
  process.exit(0);
}
