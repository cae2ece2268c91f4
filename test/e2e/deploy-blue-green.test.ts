// Blue-green on the path users run: a production-shaped stack of the real program (3 replicas, backups on,
// PostgreSQL, the HAProxy edge) switched to `api.rollout.strategy: blue-green`, then, each with `pulumi up` (or the
// rollback verb) under load through the edge that writes rows: promote a new image (a full idle set, one switch),
// roll back inside the standby window (a switch back: no container started), promote a broken image (up fails,
// the serving set never loses traffic), and once the window has passed, the standby is pending work that the next
// up removes. Zero failed requests, no row lost or written twice, the preview empty after each up; and a client
// polling the version sees one switch: never the old version again once it has seen the new one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connectDocker } from "../../src/docker";
import { rollback } from "../../src/release/rollback";
import { deriveApiImage } from "../support/derived-images";
import { testImages } from "../support/docker-images";
import { assertZeroDowntime, describeStep, startScenario } from "../support/deploy-scenario";
import { engineAvailable } from "../support/pulumi";
import { switches, versionTimeline } from "../support/versions";

const LOAD = { connections: 40, settleS: 3 };
const KEEP_OLD_MINUTES = 3;

test("blue-green through pulumi up: one switch per deploy, a switch back inside the window, a broken image never served, an expired standby removed", { timeout: 60 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const name = `bg${randomBytes(3).toString("hex")}`;
  const s = await startScenario(name, images);
  t.after(() => s.cleanup());
  const { stack } = s.ps;
  const docker = connectDocker();
  const log = (line: string) => process.stderr.write(line);
  const replicasOf = async () => {
    const list = await docker.listContainers({ filters: { label: [`slipway.stack=${s.ps.prefix}`, "slipway.resource=api"] } });
    return new Map(list.filter((c) => c.State === "running").map((c) => [c.Names[0]!.replace(/^\//, ""), { id: c.Id, revision: c.Labels["slipway.revision"]! }]));
  };
  const outputs = async () => {
    const o = await stack.outputs();
    return { containers: o.apiContainers?.value as string[], standby: o.apiStandby?.value as { revision: string; containers: string[]; until: string } | null };
  };
  const run = async (step: string, deploy: () => Promise<unknown>, expectPreviewEmpty = true) => {
    const timeline = versionTimeline(s.url);
    const f = await s.measure(step, LOAD, deploy);
    const sw = switches(await timeline.stop());
    console.log(`${describeStep(f)}; versions seen ${sw.order.join(" → ")}, flips back ${sw.flips}, switch gap ${sw.gapMs} ms`);
    if (!f.error) assertZeroDowntime(f, { previewEmpty: expectPreviewEmpty });
    return { f, sw };
  };

  // The scenario starts rolling; turning blue-green on changes no container (the same revision keeps serving).
  const before = await replicasOf();
  await run("strategy rolling → blue-green", async () => {
    await stack.setConfig("slipway:api.rollout.strategy", { value: "blue-green" }, true);
    await stack.setConfig("slipway:api.rollout.blueGreen.keepOldMinutes", { value: String(KEEP_OLD_MINUTES) }, true);
    await s.up("blue-green");
  });
  assert.deepEqual(await replicasOf(), before, "no container started or removed by a strategy change");
  const v1Revision = [...before.values()][0]!.revision;

  // Promote v2: a full idle set, then one switch; the v1 set stays, idle, as the standby.
  const v2 = s.apiImage("v2");
  const promote = await run("blue-green: promote v2", async () => {
    await stack.setConfig("slipway:images.api", { value: v2 }, true);
    await s.up(`promote ${v2}`);
  });
  assert.equal(promote.sw.flips, 0, "once v2 answered, v1 never answered again");
  assert.equal(promote.sw.order.at(-1), "v2");
  const afterPromote = await replicasOf();
  const v2Revision = [...afterPromote.values()].find((c) => c.revision !== v1Revision)!.revision;
  assert.equal([...afterPromote.values()].filter((c) => c.revision === v2Revision).length, 3, "three v2 replicas");
  for (const [n, c] of before) assert.equal(afterPromote.get(n)?.id, c.id, `${n}: the v1 replica is still running (standby)`);
  let o = await outputs();
  assert.equal(o.standby?.revision, v1Revision, "apiStandby names the v1 revision");
  assert.deepEqual([...o.standby!.containers].sort(), [...before.keys()].sort());

  // Roll back inside the window: a switch back to the standby; no container is started.
  const back = await run("blue-green: rollback inside the window (switch back)", async () => {
    await rollback(stack, { reason: "blue-green switch back", log });
  });
  assert.equal(back.sw.flips, 0, "once v1 answered again, v2 never answered again");
  assert.deepEqual(back.sw.order.slice(-1), [((await (await fetch(`${s.url}/health`)).json()) as { version: string }).version]);
  const afterBack = await replicasOf();
  assert.deepEqual([...afterBack.keys()].sort(), [...afterPromote.keys()].sort(), "no container started or removed: the switch back only moved traffic");
  o = await outputs();
  assert.equal(o.standby?.revision, v2Revision, "the v2 set is now the standby");

  // A broken image: the staged set never gets traffic; up fails; the serving set is untouched, the standby kept.
  const broken = deriveApiImage({ from: images.api, ref: `${images.api}-${name}-broken`, version: "broken", cmd: ["node", "-e", "setTimeout(() => process.exit(3), 2000)"] });
  t.after(() => docker.getImage(broken).remove({ force: true }).catch(() => undefined));
  const failed = await run("blue-green: promote a broken image", async () => {
    await stack.setConfig("slipway:images.api", { value: broken }, true);
    try {
      await s.up(`promote ${broken}`);
    } finally {
      // What a person does after a failed promote: put the stack file back to what runs.
      await stack.setConfig("slipway:images.api", { value: images.api }, true);
    }
  });
  assert.ok(failed.f.error, "the up of a broken image failed");
  assert.match(failed.f.error!, /failed/);
  assert.equal(failed.f.failed, 0, "no request failed while the broken set was staged and removed");
  assert.ok(!failed.sw.order.includes("broken"), "the broken image never answered a request");
  assert.deepEqual([...(await replicasOf()).keys()].sort(), [...afterBack.keys()].sort(), "the broken replicas are gone; serving set and standby as they were");

  // Once the window has passed, the standby is work left (the preview says so), and the next up removes it.
  const until = Date.parse(o.standby!.until);
  const wait = until - Date.now() + 2000;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await assert.rejects(stack.preview({ expectNoChanges: true, color: "never" }), "an expired standby shows in the preview");
  await run("blue-green: remove the expired standby", async () => {
    await s.up("standby expired");
  });
  const final = await replicasOf();
  assert.deepEqual([...final.values()].map((c) => c.revision), [v1Revision, v1Revision, v1Revision], "only the serving v1 set is left");
  o = await outputs();
  assert.equal(o.standby, null, "no standby");
});
