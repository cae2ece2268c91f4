// End to end, real Docker: a run interrupted mid-rollout leaves a mess — a replica of the new revision already
// started, an old replica's edge slot left in drain, a stopped container of a stray revision. The next converge,
// under load, must end on exactly 3 healthy replicas of one revision with no orphan and no failed request.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { edgeRuntime } from "../../src/edge/runtime-api";
import { converge, observe } from "../../src/rollout";
import type { ExecutorContext } from "../../src/rollout";
import { createOptions, revisionOfSpec } from "../../src/rollout/spec";
import { sleep } from "../../src/vocabulary";
import { ImageRefs, testImages } from "../support/docker-images";
import { EdgeEnvironment, startEdgeEnvironment, TEST_ROLLOUT_TIMEOUTS } from "../support/edge";
import { startLoad } from "../support/load";


describe("converging after an interrupted run", { timeout: 10 * 60_000 }, () => {
  let env: EdgeEnvironment;
  let refs: ImageRefs;

  before(async () => {
    refs = await testImages();
    env = await startEdgeEnvironment({ edgeImage: refs.edge, apiImage: refs.api, postgresImage: refs.postgres, prefix: "cv" });
  });
  after(async () => {
    await env?.cleanup();
  });

  it("ends on exactly 3 replicas of one revision, with zero failed requests", async () => {
    const lines: string[] = [];
    const ctx: ExecutorContext = {
      docker: env.docker,
      edge: env.edgeTarget,
      timeouts: TEST_ROLLOUT_TIMEOUTS,
      log: (l) => {
        lines.push(l);
        console.log(l);
      },
    };
    const spec = (image: string, version: string) => env.apiSpec(image, { env: { DATABASE_URL: env.databaseUrl, PORT: "3000", APP_VERSION: version } });
    const v1 = spec(refs.api, "v1");
    await converge(ctx, v1);

    // The mess an interrupted run leaves behind.
    const v2 = spec(await env.retag(refs.api, "v2"), "v2");
    const half = await env.docker.createContainer(createOptions(v2, 1));
    await half.start();
    const stray = spec(refs.api, "stray");
    await (await env.docker.createContainer(createOptions(stray, 4))).start().then(() => env.docker.getContainer(createOptions(stray, 4).name!).stop({ t: 1 }));
    const runtime = edgeRuntime(env.docker, env.edgeContainer);
    const slots = await runtime.serversState(env.backend);
    const oldTwo = await env.docker.getContainer(`${env.stack}-api-${revisionOfSpec(v1).slice(0, 8)}-2`).inspect();
    const oldTwoAddr = Object.values(oldTwo.NetworkSettings.Networks)[0].IPAddress;
    const drainedSlot = slots.find((s) => s.addr === oldTwoAddr)!.name;
    await runtime.setServerState(env.backend, drainedSlot, "drain");

    const load = startLoad({ url: env.url, connections: 100, maxSeconds: 180 });
    await sleep(2000);
    await converge(ctx, v2, v1);
    await sleep(2000);
    const report = await load.stop();
    console.log(`[load] ${report.requests} requests, ${report.ok} ok, non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}, timeouts ${report.timeouts}`);

    assert.ok(lines.some((l) => l.includes(`slot ${env.backend}/${drainedSlot} was left in drain`)), "the drained slot was reset");
    assert.ok(lines.some((l) => /discard stopped .*-4/.test(l)), "the stopped stray container was discarded");
    const halfName = createOptions(v2, 1).name!;
    assert.ok(!lines.some((l) => l.includes(`start ${halfName}`) || l.includes(`with ${halfName}`)), "the half-done replica was kept, not started again");
    const observed = await observe(env.docker, env.stack, "api");
    assert.deepEqual(observed.map((c) => [c.revision, c.running, c.health]).sort(), [1, 2, 3].map(() => [revisionOfSpec(v2), true, "healthy"]));
    const up = (await runtime.serversState(env.backend)).filter((s) => s.addr && s.opState === 2 && (s.adminState & 0x09) === 0);
    assert.equal(up.length, 3, `expected 3 UP slots at the edge, got ${JSON.stringify(up)}`);
    assert.equal(report.failed, 0);
    assert.deepEqual(report.non2xx, {});
    assert.ok(report.ok > 300);
  });
});
