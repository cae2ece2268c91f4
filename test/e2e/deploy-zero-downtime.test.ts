// Zero downtime on the path users run: a production-shaped stack of the real program (3 replicas, backups on,
// PostgreSQL, the HAProxy edge) brought up with `pulumi up`, then every kind of routine deploy, each under load
// through the edge that writes rows: promote a new image, change an API env value, change an edge setting
// (a reload), change the edge image (a handover), roll back from the stack history — zero failed requests, no
// row lost or written twice, and `pulumi preview --expect-no-changes` green after each. A database restart fails
// only requests that need the database, with a 503, and never takes the replicas out of the edge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connectDocker } from "../../src/docker";
import { rollbackTarget } from "../../src/release/history";
import { history } from "../../src/release/stack";
import { testImages } from "../support/docker-images";
import { assertZeroDowntime, describeStep, restartDatabase, startScenario, type StepFigures } from "../support/deploy-scenario";
import { engineAvailable } from "../support/pulumi";

const LOAD = { connections: 40, settleS: 3 };

test("production-shaped stack: every routine deploy under load drops nothing, and the preview after it is empty", { timeout: 45 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const name = `zd${randomBytes(3).toString("hex")}`;
  const s = await startScenario(name, images);
  t.after(() => s.cleanup());
  const { stack } = s.ps;
  const results: StepFigures[] = [];
  const run = async (step: string, deploy: () => Promise<unknown>) => {
    const f = await s.measure(step, LOAD, deploy);
    console.log(describeStep(f));
    results.push(f);
    return f;
  };

  // Right after the first up: nothing left to change (no value the provider reads back differently).
  const initial = await run("idle (no deploy)", async () => undefined);
  assertZeroDowntime(initial);

  const v2 = s.apiImage("v2");
  assertZeroDowntime(await run("promote a new API image", async () => {
    await stack.setConfig("slipway:images.api", { value: v2 }, true);
    await s.up(`promote ${v2}`);
  }));
  assert.equal(((await (await fetch(`${s.url}/health`)).json()) as { version: string }).version, "v2");

  assertZeroDowntime(await run("change an API env value", async () => {
    await stack.setConfig("slipway:api.env.LOG_LEVEL", { value: "debug" }, true);
    await s.up("env change");
  }));

  assertZeroDowntime(await run("change an edge setting (reload)", async () => {
    await stack.setConfig("slipway:edge.slots", { value: "12" }, true);
    await s.up("edge slots 12");
  }));

  const edge2 = s.edgeImage("b");
  assertZeroDowntime(await run("change the edge image (handover)", async () => {
    await stack.setConfig("slipway:images.edge", { value: edge2 }, true);
    await s.up(`edge image ${edge2}`);
  }));

  assertZeroDowntime(await run("roll back from history", async () => {
    const { to } = rollbackTarget(s.ps.stackName, await history(stack), { to: 1 });
    assert.equal(to.images.api, images.api, "the release before v2 ran the first image");
    await stack.setConfig("slipway:images.api", { value: to.images.api }, true);
    await s.up(`rollback to ${to.images.api}`);
  }));

  // The database and the edge holder were never replaced by any of it.
  const outputs = await stack.outputs();
  assert.equal(outputs.dbContainer?.value, s.dbContainer);

  // What the stack file says reaches the replicas: the named volume and the readiness probe with its budget.
  const docker = connectDocker();
  for (const name of outputs.apiContainers?.value as string[]) {
    const info = await docker.getContainer(name).inspect();
    assert.deepEqual(
      (info.Mounts ?? []).map((m) => ({ type: m.Type, name: m.Destination === "/run" ? "(anonymous)" : m.Name, target: m.Destination, rw: m.RW })).sort((x, y) => x.target.localeCompare(y.target)),
      [
        { type: "volume", name: "(anonymous)", target: "/run", rw: true }, // the replica's own /run, for its secret files (read-only root)
        { type: "volume", name: `slipway-${name.split("-")[1]}-uploads`, target: "/srv/uploads", rw: true },
      ],
      `${name}: api.volumes mounted`,
    );
    assert.deepEqual(info.Config.Healthcheck?.Test?.slice(0, 4), ["CMD", "bash", "dist/api/healthcheck.sh", "/up"], `${name}: Docker probes api.healthcheck.path`);
    assert.equal(info.HostConfig.LogConfig?.Config?.["max-size"], "10m", `${name}: log rotation`);
  }

  // A database restart: routes that need it fail fast with 503; the rest never fail; the edge keeps its servers.
  const db = await run("restart the database", () => restartDatabase(s));
  assert.equal(db.error, undefined);
  assert.deepEqual(db.errors, {}, "no connection errors at the edge");
  const slow = db.byRoute.slow ?? {};
  assert.deepEqual(Object.keys(slow).filter((c) => !c.startsWith("2")), [], `routes without the database never fail: ${JSON.stringify(slow)}`);
  const items = db.byRoute.items ?? {};
  assert.deepEqual(Object.keys(items).filter((c) => !c.startsWith("2") && c !== "503"), [], `database routes fail only with 503: ${JSON.stringify(items)}`);
  assert.equal(db.rows.lost, 0, "no answered write lost");
  assert.equal(db.rows.rowsTwice, 0, "no write twice");
  assert.equal(db.perpetualDiff, "", "a restarted database is not a change");
});
