// Provider lines filed under their own resource (infra/providers/resource-log.ts) and the one-line summary of a
// replica set's change (src/rollout/summary.ts): the engine's address is found only in the dynamic-provider host,
// the logUrn input adds no diff to any provider, the program's URN is the engine's, and each strategy says what it does.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { engineAddress, resourceLog } from "../../infra/providers/resource-log";
import { diffReplicaSet } from "../../infra/providers/replica-set";
import { diffEdgeProxy } from "../../infra/providers/edge-proxy";
import { diffInputs } from "../../infra/providers/swarm";
import { revisionOfSpec, summarizeChange, type ReplicaSpec } from "../../src/rollout";

const captured: Record<string, unknown>[] = [];
pulumi.runtime.setMocks(
  { newResource: (args) => { captured.push(args.inputs); return { id: args.name, state: args.inputs }; }, call: (args) => args.inputs },
  "slipway", "test", false,
);

const SPEC: ReplicaSpec = {
  stack: "demo", service: "api", image: "slipway/api:1", replicas: 3, env: { A: "1" }, networks: [{ name: "net" }],
  memoryMb: 256, cpus: 0.5, restartPolicy: "unless-stopped", volumes: [],
  healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 },
};
const CANARY = { replicas: 1, steps: [10, 50], stepSeconds: 60, maxErrorRateIncrease: 1, maxP99Ratio: 2, minRequests: 20 };
const ROLLOUT = { healthTimeoutMs: 1, edgeUpTimeoutMs: 1, drainTimeoutMs: 1, stopGraceSeconds: 1, strategy: "rolling" as const, surge: 1, blueGreen: { keepOldMinutes: 15 }, canary: CANARY };
const short = (s: ReplicaSpec) => revisionOfSpec(s).slice(0, 8);

describe("resource log", () => {
  it("finds the engine's address only in the dynamic-provider host, after the engine's flags", () => {
    const host = "/p/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js";
    assert.equal(engineAddress(["127.0.0.1:4321"], host), "127.0.0.1:4321");
    assert.equal(engineAddress(["--logtostderr", "-v=9", "--tracing", "127.0.0.1:9", "127.0.0.1:4321"], host), "127.0.0.1:4321");
    assert.equal(engineAddress(["127.0.0.1:4321"], "/p/bench/rollout.ts"), undefined);
    assert.equal(engineAddress([], undefined), undefined);
  });

  it("outside the host, lines go to stderr and flush resolves", async () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const log = resourceLog("urn:pulumi:s::p::t::n");
      log("[rollout] one");
      log("[rollout] two");
      await log.flush();
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(written, ["[rollout] one\n", "[rollout] two\n"]);
  });

  it("logUrn adds no diff: a state written without it, read with it, is no change for every provider", () => {
    const rollout = ROLLOUT;
    const olds = { ...SPEC, rollout, containers: ["a", "b", "c"], revision: revisionOfSpec(SPEC) };
    assert.equal(diffReplicaSet(olds, { ...SPEC, rollout, logUrn: "urn:x" }).changes, false);
    const edge = { stack: "demo", holder: "h", image: "i", config: "c", restartPolicy: "no", labels: {}, timeouts: { readyTimeoutMs: 1, stopTimeoutMs: 1 } };
    assert.equal(diffEdgeProxy({ ...edge, container: "demo-haproxy-1" } as never, { ...edge, logUrn: "urn:x" } as never).changes, false);
    assert.equal(diffInputs({ image: "i" }, { image: "i", logUrn: "urn:x" }, []).changes, false);
  });

  it("the program's logUrn is the URN the resource gets, under a parent too", async () => {
    const { ReplicaSet } = await import("../../infra/providers/replica-set");
    class Api extends pulumi.ComponentResource {
      rs: InstanceType<typeof ReplicaSet>;
      constructor() {
        super("slipway:index:ApiService", "api");
        this.rs = new ReplicaSet("api-replicas", { ...SPEC, rollout: ROLLOUT }, { parent: this });
      }
    }
    const urn = await new Promise<string>((resolve) => new Api().rs.urn.apply(resolve));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(urn, "urn:pulumi:test::slipway::slipway:index:ApiService$pulumi-nodejs:dynamic/slipway:ReplicaSet::api-replicas");
    assert.ok(captured.some((i) => i.logUrn === urn), `logUrn inputs: ${captured.map((i) => i.logUrn).join(", ")}`);
  });
});

describe("one-line summary of a replica set's change", () => {
  const v2 = { ...SPEC, image: "slipway/api:2" };
  const now = Date.parse("2026-12-06T12:00:00Z");
  it("says what each strategy does", () => {
    assert.equal(summarizeChange({ spec: SPEC }, v2, { strategy: "rolling", surge: 1 }, ["image"], now), `rolling 3 replicas ${short(SPEC)}→${short(v2)}, surge 1`);
    assert.equal(summarizeChange({ spec: SPEC }, { ...v2, replicas: 4 }, { surge: 2 }, ["image", "replicas"], now), `rolling 3→4 replicas ${short(SPEC)}→${short(v2)}, surge 2`);
    assert.equal(summarizeChange({ spec: SPEC }, v2, { strategy: "blue-green", keepOldMinutes: 15 }, ["image"], now), `blue-green: stage 3 of ${short(v2)}, switch, keep ${short(SPEC)} as standby 15 min`);
    const standby = { revision: revisionOfSpec(v2), containers: ["x"], until: "2026-12-06T12:10:00Z" };
    assert.equal(summarizeChange({ spec: SPEC }, v2, { strategy: "blue-green", keepOldMinutes: 15, standby }, ["image"], now), `blue-green: switch back to the standby ${short(v2)} (3 replicas), keep ${short(SPEC)} as standby 15 min`);
    assert.equal(summarizeChange({ spec: SPEC }, v2, { strategy: "canary", canary: CANARY }, ["image"], now), `canary: 1 of ${short(v2)} at 10 → 50 % (60 s each, gated), then rolling 3 replicas ${short(SPEC)}→${short(v2)}`);
  });
  it("scaling, drift, an expired standby and settings alone", () => {
    assert.equal(summarizeChange({ spec: SPEC }, { ...SPEC, replicas: 5 }, {}, ["replicas"], now), `scale 3→5 replicas of ${short(SPEC)}`);
    assert.equal(summarizeChange({ spec: SPEC, running: 2 }, SPEC, {}, ["containers"], now), `converge: 2 of 3 replicas of ${short(SPEC)} running`);
    const standby = { revision: "ffffffff00000000", containers: ["x"], until: "2026-12-06T11:00:00Z" };
    assert.equal(summarizeChange({ spec: SPEC }, SPEC, { strategy: "blue-green", standby }, ["standby"], now), "remove the standby ffffffff (its window ended 2026-12-06T11:00:00Z)");
    assert.equal(summarizeChange({ spec: SPEC }, SPEC, { surge: 2 }, ["rollout.surge"], now), "no replica starts or stops (rollout.surge changed)");
  });
});
