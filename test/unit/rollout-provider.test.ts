// The ReplicaSet dynamic provider is declared with a few lines of text (no project modules copied into the state),
// and constructs under Pulumi mocks with `env` marked secret.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";

const CANARY = { replicas: 1, steps: [10, 50], stepSeconds: 60, maxErrorRateIncrease: 1, maxP99Ratio: 2, minRequests: 20 };

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
  it("is declared as a few lines of text that load the provider, and it the engine, at run time (one loader for both)", async () => {
    const { replicaSetProvider } = await import("../../infra/providers/replica-set");
    const { edgeProxyProvider } = await import("../../infra/providers/edge-proxy");
    const { swarmReleaseProvider } = await import("../../infra/providers/swarm");
    const { providerCode } = await import("../../infra/providers/engine");
    const code = {
      "replica-set": providerCode("replica-set", "replicaSetProvider", replicaSetProvider),
      "edge-proxy": providerCode("edge-proxy", "edgeProxyProvider", edgeProxyProvider),
      swarm: providerCode("swarm", "swarmReleaseProvider", swarmReleaseProvider),
    };
    for (const [module, text] of Object.entries(code)) {
      // What the state holds and every run parses: a stand-in per method that loads the real provider where it
      // runs, never the provider's own closure nor the engine's code.
      assert.ok(text.length < 3_000, `${module}: ${text.length} chars`);
      assert.match(text, /tsx\/cjs\/api/);
      assert.match(text, /function loadFromCheckout\(/);
      assert.match(text, new RegExp(`"module":"${module}"`));
      assert.doesNotMatch(text, /function plan\(|class Run|renderHaproxyConfig|function applyEdge\(|diffReplicaSet|withResourceLog/, "no provider or engine code copied into state");
    }
    assert.equal(providerCode("replica-set", "replicaSetProvider", replicaSetProvider), code["replica-set"], "the same provider, the same text");
    // What the state holds works on its own: evaluated from a file, the stand-in loads the provider, which loads the
    // engine and uses it.
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-provider-"));
    try {
      writeFileSync(path.join(dir, "provider.js"), code["replica-set"]);
      const provider = (require(path.join(dir, "provider.js")) as { handler: () => pulumi.dynamic.ResourceProvider }).handler();
      assert.deepEqual(Object.keys(provider).sort(), Object.keys(replicaSetProvider).sort());
      const checked = await provider.check!({}, { stack: "demo", service: "api", image: "", replicas: 1 } as never);
      assert.match(String(checked.failures?.[0]?.reason), /image is empty/, "the engine's validateSpec answered through the loader in the text");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
      restartPolicy: "unless-stopped",
      edge: { stack: "demo", backend: "api" },
      rollout: { healthTimeoutMs: 60_000, edgeUpTimeoutMs: 20_000, drainTimeoutMs: 30_000, stopGraceSeconds: 10, strategy: "blue-green", surge: 1, blueGreen: { keepOldMinutes: 15 }, canary: CANARY },
    });
    const id = await new Promise((resolve) => rs.id.apply(resolve));
    assert.equal(id, "demo/api");
    assert.equal(await pulumi.isSecret(rs.env), true);
  });

  it("diff: image or env change is an update, never a replace; stack/service change replaces; same spec is no change", async () => {
    const { replicaSetProvider, diffReplicaSet } = await import("../../infra/providers/replica-set");
    const base = {
      stack: "demo", service: "api", image: "slipway/api:1", replicas: 3, env: { A: "1" }, networks: [{ name: "net", aliases: ["api"] }],
      memoryMb: 256, cpus: 0.5, healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 },
      restartPolicy: "unless-stopped" as const, edge: { stack: "demo", backend: "api" },
      rollout: { healthTimeoutMs: 60_000, edgeUpTimeoutMs: 20_000, drainTimeoutMs: 30_000, stopGraceSeconds: 10, strategy: "rolling" as const, surge: 1, blueGreen: { keepOldMinutes: 15 }, canary: CANARY },
    };
    const olds = { ...base, containers: ["a", "b", "c"], revision: "r" };
    const diff = async (news: object) => {
      // The provider's diff is the pure one.
      assert.deepEqual(await replicaSetProvider.diff!("demo/api", olds, { ...base, ...news }), diffReplicaSet(olds, { ...base, ...news }));
      return diffReplicaSet(olds, { ...base, ...news });
    };
    assert.deepEqual(await diff({}), { changes: false, replaces: [], detailedDiff: {}, deleteBeforeReplace: false });
    // The provider's own code (another checkout's or another build's serialization) is no change of the replica set.
    assert.deepEqual(diffReplicaSet({ ...olds, __provider: "old code" } as never, { ...base, __provider: "new code" } as never).changes, false);
    const update = { kind: "update", inputDiff: true };
    assert.deepEqual(await diff({ image: "slipway/api:2" }), { changes: true, replaces: [], detailedDiff: { image: update }, deleteBeforeReplace: false });
    assert.deepEqual((await diff({ env: { A: "2" } })).detailedDiff, { env: update });
    assert.deepEqual((await diff({ replicas: 5 })).detailedDiff, { replicas: update });
    // Every key of the spec is compared, including ones added later (volumes here): nothing is listed by hand.
    assert.deepEqual((await diff({ volumes: [{ source: "data", target: "/data", readOnly: false }] })).detailedDiff, { volumes: update });
    assert.deepEqual((await diff({ healthcheck: { ...base.healthcheck, test: ["CMD", "false"] } })).detailedDiff, { healthcheck: update });
    const replaced = await diff({ stack: "other" });
    assert.deepEqual(replaced.replaces, ["stack"]);
    assert.deepEqual(replaced.detailedDiff, { stack: { kind: "update-replace", inputDiff: true } });
    // Containers that vanished outside Pulumi (read found 2 of 3) call for an update that converges them.
    const drifted = await replicaSetProvider.diff!("demo/api", { ...olds, containers: ["a", "b"] }, base);
    assert.equal(drifted.changes, true);
    // A strategy change is a rolling update of the same containers (the revision excludes it).
    assert.deepEqual((await diff({ rollout: { ...base.rollout, strategy: "blue-green" } })).detailedDiff, { "rollout.strategy": update });
    // So is a surge change, named as such (test/e2e/deploy-surge.test.ts: an up of it alone starts no replica).
    const surged = await diff({ rollout: { ...base.rollout, surge: 2 } });
    assert.deepEqual(surged, { changes: true, replaces: [], detailedDiff: { "rollout.surge": update }, deleteBeforeReplace: false });
  });

  it("diff: a blue-green standby is no change inside its window, and an update once it has passed (the next up removes it)", async () => {
    const { diffReplicaSet } = await import("../../infra/providers/replica-set");
    const base = {
      stack: "demo", service: "api", image: "slipway/api:1", replicas: 2, env: {}, networks: [{ name: "net" }],
      memoryMb: 256, cpus: 0.5, healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 },
      restartPolicy: "unless-stopped" as const,
      rollout: { healthTimeoutMs: 60_000, edgeUpTimeoutMs: 20_000, drainTimeoutMs: 30_000, stopGraceSeconds: 10, strategy: "blue-green" as const, surge: 1, blueGreen: { keepOldMinutes: 15 }, canary: CANARY },
    };
    const until = "2026-11-23T12:15:00.000Z";
    const olds = { ...base, containers: ["a", "b"], revision: "r", standby: { revision: "q", containers: ["c", "d"], until } };
    assert.equal(diffReplicaSet(olds, base, Date.parse(until) - 1).changes, false);
    const after = diffReplicaSet(olds, base, Date.parse(until));
    assert.equal(after.changes, true);
    assert.deepEqual(after.detailedDiff, { standby: { kind: "update", inputDiff: false } });
  });
});
