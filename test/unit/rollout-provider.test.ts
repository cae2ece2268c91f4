// The ReplicaSet dynamic provider must serialize into state with a small closure (no project modules copied
// by value), and construct under Pulumi mocks with `env` marked secret.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";

pulumi.runtime.setMocks(
  {
    newResource: (args) => ({ id: `${args.inputs.stack}/${args.inputs.service}`, state: { ...args.inputs, containers: [], revision: "r" } }),
    call: (args) => args.inputs,
  },
  "slipway",
  "test",
  false,
);

describe("ReplicaSet provider", () => {
  it("serializes to a small function that loads the engine at run time", async () => {
    const { replicaSetProvider } = await import("../../infra/providers/replica-set");
    const fn = await pulumi.runtime.serializeFunction(() => replicaSetProvider, { allowSecrets: true });
    assert.ok(fn.text.length < 20_000, `serialized provider is ${fn.text.length} chars`);
    assert.match(fn.text, /tsx\/cjs\/api/);
    assert.match(fn.text, /src\/rollout\/index\.ts/);
    assert.doesNotMatch(fn.text, /function plan\(|class Run|renderHaproxyConfig/, "engine code must not be copied into state");
  });

  it("constructs under mocks with env as a secret output", async () => {
    const { ReplicaSet } = await import("../../infra/providers/replica-set");
    const rs = new ReplicaSet("api", {
      stack: "demo",
      service: "api",
      image: "slipway/api:x",
      replicas: 3,
      env: { DATABASE_URL: "postgres://u:p@db/x" },
      networks: [{ name: "net", aliases: ["api"] }],
      memoryMb: 256,
      cpus: 0.5,
      healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 },
      edge: { container: "edge", backend: "api" },
    });
    const id = await new Promise((resolve) => rs.id.apply(resolve));
    assert.equal(id, "demo/api");
    assert.equal(await pulumi.isSecret(rs.env), true);
  });

  it("diff: image or env change is an update, never a replace; stack/service change replaces; same spec is no change", async () => {
    const { replicaSetProvider } = await import("../../infra/providers/replica-set");
    const base = {
      stack: "demo", service: "api", image: "slipway/api:1", replicas: 3, env: { A: "1" }, networks: [{ name: "net", aliases: ["api"] }],
      memoryMb: 256, cpus: 0.5, healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 },
      edge: { container: "edge", backend: "api" },
    };
    const olds = { ...base, containers: ["a", "b", "c"], revision: "r" };
    const diff = (news: object) => replicaSetProvider.diff!("demo/api", olds, { ...base, ...news });
    assert.deepEqual(await diff({}), { changes: false, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(await diff({ image: "slipway/api:2" }), { changes: true, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(await diff({ env: { A: "2" } }), { changes: true, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(await diff({ replicas: 5 }), { changes: true, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual((await diff({ stack: "other" })).replaces, ["stack"]);
  });
});
