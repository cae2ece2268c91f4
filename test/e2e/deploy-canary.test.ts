// Canary on the path users run: a production-shaped stack of the real program (3 replicas, backups on,
// PostgreSQL, the HAProxy edge) switched to `api.rollout.strategy: canary`, then with `pulumi up` under load through
// the edge that writes rows: a good image passes every share (judged on the edge's own access log against the stable
// set) and continues as a rolling replacement — zero failed requests, the preview empty after; an image that answers
// 500 to a share of its requests fails the first gate: its weight goes to 0, it is drained and removed, `pulumi up`
// fails quoting the figures, and the failed requests users saw are counted (all on the canary's share).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connectDocker } from "../../src/docker";
import { edgeErrorLines } from "../support/edge-log";
import { deriveApiImage, FAULT_HALF_OF_REQUESTS } from "../support/derived-images";
import { testImages } from "../support/docker-images";
import { assertZeroDowntime, describeStep, startScenario, type StepFigures } from "../support/deploy-scenario";
import { engineAvailable } from "../support/pulumi";

const LOAD = { connections: 40, settleS: 3 };
/** Each share held this long (the load makes ~50–100 requests/s here: a few hundred canary requests per step). */
const STEP_SECONDS = 15;

test("canary through pulumi up: a good image passes its gates and rolls on with zero failed requests; a faulty one fails the first gate, is removed, and the up fails quoting the figures", { timeout: 60 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const name = `cn${randomBytes(3).toString("hex")}`;
  const s = await startScenario(name, images);
  t.after(() => s.cleanup());
  const { stack } = s.ps;
  const docker = connectDocker();
  const running = async () => {
    const list = await docker.listContainers({ filters: { label: [`slipway.stack=${s.ps.prefix}`, "slipway.resource=api"] } });
    return list.filter((c) => c.State === "running").map((c) => c.Labels["slipway.revision"]!);
  };
  let output = "";
  const up = async (message: string) => {
    const result = await stack.up({ message, color: "never", onOutput: (o) => { output += o; process.stderr.write(o); } });
    if (result.summary.result !== "succeeded") throw new Error(`pulumi up: ${result.summary.result}`);
  };
  const run = async (step: string, deploy: () => Promise<unknown>): Promise<StepFigures> => {
    output = "";
    const f = await s.measure(step, LOAD, deploy);
    console.log(describeStep(f));
    return f;
  };

  await stack.setConfig("slipway:api.rollout.strategy", { value: "canary" }, true);
  await stack.setConfig("slipway:api.rollout.canary.steps[0]", { value: "20" }, true);
  await stack.setConfig("slipway:api.rollout.canary.steps[1]", { value: "50" }, true);
  await stack.setConfig("slipway:api.rollout.canary.stepSeconds", { value: String(STEP_SECONDS) }, true);
  await s.up("canary");

  // A good image: 20 %, 50 %, each judged and passed, then a rolling replacement; nothing failed.
  const v2 = s.apiImage("v2");
  const good = await run("canary: promote v2", async () => {
    await stack.setConfig("slipway:images.api", { value: v2 }, true);
    await up(`promote ${v2}`);
  });
  if (good.failed > 0) console.log(await edgeErrorLines(docker, s.ps.prefix));
  assertZeroDowntime(good);
  // (pulumi prints each line twice: as it happens and in the summary)
  const passed = [...new Set(output.match(/canary gate passed at \d+ %[^\n]*/g) ?? [])];
  console.log(passed.join("\n"));
  assert.equal(passed.length, 2, "both shares judged and passed");
  assert.match(passed[0]!, /at 20 %: canary [1-9]\d* requests/, "the canary had requests of its own at 20 %");
  const v2Revisions = await running();
  assert.equal(v2Revisions.length, 3);
  assert.equal(new Set(v2Revisions).size, 1, "one revision: the rolling replacement finished");

  // A faulty image (500 on half of its requests): the first gate fails; the canary gets no more requests and goes.
  const faulty = deriveApiImage({ from: images.api, ref: `${images.api}-${name}-faulty`, version: "faulty", preload: FAULT_HALF_OF_REQUESTS });
  t.after(() => docker.getImage(faulty).remove({ force: true }).catch(() => undefined));
  const bad = await run("canary: promote an image failing 50 % of its requests", async () => {
    await stack.setConfig("slipway:images.api", { value: faulty }, true);
    try {
      await up(`promote ${faulty}`);
    } finally {
      await stack.setConfig("slipway:images.api", { value: v2 }, true);
    }
  });
  assert.ok(bad.error, "the up failed");
  assert.match(output, /canary gate failed at 20 %: canary \d+ requests, \d+ × 5xx \(\d+\.\d %\)/, "pulumi up quotes the figures");
  console.log(`users saw ${bad.failed} failed requests of ${bad.requests} (${JSON.stringify(bad.non2xx)}) while the canary held 20 % for ${STEP_SECONDS} s`);
  assert.ok(bad.failed > 0, "the fault reached users through the canary's share (that is what a canary risks)");
  assert.deepEqual(Object.keys(bad.non2xx), ["500"], "only the canary's injected 500s, no connection errors or 503s");
  assert.deepEqual(bad.errors, {});
  assert.ok(bad.failed < bad.requests * 0.2, "fewer than the canary's share × its fault rate could produce over the whole run");
  assert.deepEqual(await running(), v2Revisions, "the canary is gone; the stable v2 set serves as before");
  assert.equal(((await (await fetch(`${s.url}/health`)).json()) as { version: string }).version, "v2");
});
