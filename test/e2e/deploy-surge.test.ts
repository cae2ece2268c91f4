// Rolling in batches on the path users run: a production-shaped stack of the real program (PostgreSQL, backups on,
// the HAProxy edge) at 4 replicas with `api.rollout.surge: 2`. A change of surge alone rolls nothing (it says how
// the next release moves, not what runs); a promote under load through the edge that writes rows starts two new
// replicas, waits until both are healthy and UP at the edge, and only then drains two old ones — twice. Zero
// failed requests, no row lost or written twice, the preview empty after each up; the order is read from the
// rollout's own events (SLIPWAY_ROLLOUT_EVENTS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDocker } from "../../src/docker";
import { testImages } from "../support/docker-images";
import { assertZeroDowntime, describeStep, startScenario } from "../support/deploy-scenario";
import { engineAvailable } from "../support/pulumi";

const LOAD = { connections: 40, settleS: 3 };

interface Event {
  step: string;
  container: string;
  replica?: number;
  outcome: string;
  durationMs: number;
}

test("surge 2 of 4 replicas: a surge change alone rolls nothing; a promote under load starts two new replicas before any old one drains, drops nothing", { timeout: 45 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const name = `sg${randomBytes(3).toString("hex")}`;
  const s = await startScenario(name, images);
  t.after(() => s.cleanup());
  const { stack } = s.ps;
  const docker = connectDocker();
  const replicasOf = async () => {
    const list = await docker.listContainers({ filters: { label: [`slipway.stack=${s.ps.prefix}`, "slipway.resource=api"] } });
    return new Map(list.filter((c) => c.State === "running").map((c) => [c.Names[0]!.replace(/^\//, ""), c.Id]));
  };

  // 4 replicas (the scenario starts with 3): one more, as any scale-up.
  await stack.setConfig("slipway:api.replicas", { value: "4" }, true);
  await s.up("4 replicas");
  const four = await replicasOf();
  assert.equal(four.size, 4);

  // surge 2 alone: an update of the replica set (rollout.surge) that starts and removes nothing.
  const surgeChange = await s.measure("surge 1 → 2 (no release)", LOAD, async () => {
    await stack.setConfig("slipway:api.rollout.surge", { value: "2" }, true);
    await s.up("surge 2");
  });
  console.log(describeStep(surgeChange));
  assertZeroDowntime(surgeChange);
  assert.deepEqual(await replicasOf(), four, "a change of surge alone starts and removes no container");

  // Promote v2 with the rollout's events written to a file (the provider inherits the variable from pulumi).
  const eventsDir = mkdtempSync(join(tmpdir(), "slipway-surge-events-"));
  const events = join(eventsDir, "rollout.jsonl");
  process.env.SLIPWAY_ROLLOUT_EVENTS = events;
  t.after(() => {
    delete process.env.SLIPWAY_ROLLOUT_EVENTS;
    rmSync(eventsDir, { recursive: true, force: true });
  });
  const v2 = s.apiImage("v2");
  const promote = await s.measure("promote v2, 4 replicas, surge 2", LOAD, async () => {
    await stack.setConfig("slipway:images.api", { value: v2 }, true);
    await s.up(`promote ${v2}`);
  });
  delete process.env.SLIPWAY_ROLLOUT_EVENTS;
  console.log(describeStep(promote));
  assertZeroDowntime(promote);
  assert.equal(((await (await fetch(`${s.url}/health`)).json()) as { version: string }).version, "v2");
  const after = await replicasOf();
  assert.equal(after.size, 4);
  for (const n of after.keys()) assert.ok(!four.has(n), `${n} is new`);

  const steps = readFileSync(events, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Event);
  console.log(`rollout events: ${steps.map((e) => `${e.step} ${e.container}${e.replica ? ` #${e.replica}` : ""} ${e.durationMs} ms`).join("; ")}`);
  assert.ok(steps.every((e) => e.outcome === "ok"), "every step ok");
  // Two batches, each: both new replicas started, both healthy, both UP at the edge; then both old ones drained,
  // waited for and removed.
  const batch = ["start-new", "wait-healthy", "wait-edge-up", "drain-old", "wait-drained", "remove-old"].flatMap((k) => [k, k]);
  assert.deepEqual(steps.map((e) => e.step), [...batch, ...batch]);
  const firstDrain = steps.findIndex((e) => e.step === "drain-old");
  const startedBefore = steps.slice(0, firstDrain).filter((e) => e.step === "start-new");
  assert.equal(startedBefore.length, 2, "two new replicas started before any old one was drained");
  assert.deepEqual(startedBefore.map((e) => e.replica), [1, 2]);
  assert.deepEqual(steps.slice(0, firstDrain).filter((e) => e.step === "wait-edge-up").map((e) => e.container), startedBefore.map((e) => e.container), "both UP at the edge before the first drain");
  assert.deepEqual(new Set(steps.filter((e) => e.step === "start-new").map((e) => e.container)), new Set(after.keys()));
  assert.deepEqual(new Set(steps.filter((e) => e.step === "drain-old").map((e) => e.container)), new Set(four.keys()));
});
