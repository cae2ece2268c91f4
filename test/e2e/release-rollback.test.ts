// Rollback restores a release — the API image and slipway:api — along the chain of the stack's history, under
// the real engine, real Docker and PostgreSQL, with load through the edge. A small staging-shaped stack goes
// v1 → v2 (a new image) → v3 (config only: replicas 3 and an env value); then, driven through the verb's own
// code path (src/release/rollback.ts, the stack handle injected) and each under load with zero failed
// requests: rollback → v2, rollback → v1 (two releases back, not back and forth), `--to` the config-only
// release. Refusals change nothing: nothing earlier, an image removed from the host, a locked stack. The
// database and the edge are never replaced; images.postgres and images.edge never change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectDocker, execText } from "../../src/docker";
import { promoteMessage } from "../../src/release/history";
import { imageIdOnStackHost } from "../../src/release/host";
import { listReleases, rollback } from "../../src/release/rollback";
import { rollbackVerb } from "../../src/release/rollback-verb";
import { deploy, history, setImages } from "../../src/release/stack";
import { testImages } from "../support/docker-images";
import { deriveApiImage } from "../support/derived-images";
import { HEALTHCHECK_TIMEOUT_MS, TEST_ROLLOUT_TIMEOUTS } from "../support/edge";
import { countRows, startLoad, type LoadReport } from "../support/load";
import { freePort, projectStack, smallStackConfig } from "../support/project-stack";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";

const LOAD = { connections: 16, settleMs: 2000 };

test("rollback restores releases along the history chain under load, and refuses without changing anything", { timeout: 45 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const base = await testImages();
  const suffix = randomBytes(3).toString("hex");
  const name = `rb${suffix}`;
  const v1 = deriveApiImage({ from: base.api, ref: `slipway/api:rb-${suffix}-v1`, version: "v1" });
  const v2 = deriveApiImage({ from: base.api, ref: `slipway/api:rb-${suffix}-v2`, version: "v2" });
  const docker = connectDocker();
  t.after(() => execFileSync("docker", ["rmi", "-f", v1, v2], { stdio: "ignore" }));

  const port = await freePort();
  const config = smallStackConfig({ images: { api: v1, edge: base.edge, postgres: base.postgres }, port, replicas: 2, healthTimeoutMs: TEST_ROLLOUT_TIMEOUTS.healthTimeoutMs, apiEnv: { LOG_LEVEL: "info" } });
  const uploads = `slipway-${name}-uploads`;
  const api = config.api as Record<string, unknown>;
  // A volume, so slipway:api carries an array through the history and back; the tests' generous probe budget (2 busy cores).
  api.volumes = [{ source: uploads, target: "/srv/uploads", readOnly: false }];
  api.healthcheck = { path: "/up", intervalMs: 1000, timeoutMs: HEALTHCHECK_TIMEOUT_MS, retries: 3, startPeriodMs: 5000 };
  const ps = await projectStack(name, config);
  t.after(async () => {
    await ps.stack.destroy({ color: "never" }).catch(() => undefined);
    await docker.getVolume(`${ps.prefix}-pgdata`).remove().catch(() => undefined);
    await docker.getVolume(uploads).remove().catch(() => undefined);
    await ps.cleanup();
  });
  const { stack } = ps;
  const url = `http://127.0.0.1:${port}`;
  const log = (s: string) => process.stderr.write(s);
  const stackFile = join(ps.workDir, `Pulumi.${name}.yaml`);
  const dbContainer = `${ps.prefix}-db`;
  const sql = (q: string) => execText(docker, dbContainer, ["psql", "-U", "app", "-d", "app", "-Atc", q], undefined, 30_000);

  const promote = async (image: string) => {
    await setImages(stack, { api: image });
    await deploy(stack, promoteMessage(image, await imageIdOnStackHost(stack, image)), log);
  };
  /** What runs: version through the edge, API containers with their FEATURE env. */
  const running = async () => {
    const health = (await (await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).json()) as { version: string; checks: { db: string } };
    const containers = (await docker.listContainers({ filters: { label: [`slipway.stack=${ps.prefix}`, "slipway.resource=api"] } })).filter((c) => c.State === "running");
    const envs = await Promise.all(containers.map(async (c) => (await docker.getContainer(c.Id).inspect()).Config.Env.filter((e) => e.startsWith("FEATURE=")).join(",")));
    return { version: health.version, db: health.checks.db, replicas: containers.length, feature: [...new Set(envs)].join("|") };
  };
  const infra = async () => ({
    db: (await docker.getContainer(dbContainer).inspect()).Id,
    holder: (await docker.getContainer(`${ps.prefix}-edge`).inspect()).Id,
    // images.api is what a rollback restores; the other two are never touched by one.
    images: (({ edge, postgres }) => ({ edge, postgres }))(JSON.parse((await stack.getConfig("slipway:images")).value) as Record<string, string>),
  });
  const underLoad = async (step: string, action: () => Promise<unknown>) => {
    const load = startLoad({ url, connections: LOAD.connections, maxSeconds: 900, mix: "items", postShare: 0.5, slowShare: 0.1, slowMs: 1000, fastMs: 100 });
    await new Promise((r) => setTimeout(r, LOAD.settleMs));
    const started = Date.now();
    let seconds = 0;
    let report: LoadReport;
    try {
      await action();
      seconds = (Date.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, LOAD.settleMs));
    } finally {
      // Stopped whatever happens, so a failed rollback does not leave the load running.
      report = await load.stop();
    }
    const rows = await countRows(report, load.idPrefix, sql);
    console.log(
      `${step}: ${report.requests} requests, ${report.failed} failed (non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}), ` +
        `${rows.postsOk} 2xx POSTs, rows ${rows.rows} (lost ${rows.lost}, twice ${rows.rowsTwice}), p50 ${report.latencyP50Ms} ms, p99 ${report.latencyP99Ms} ms, rollback ${seconds.toFixed(1)} s`,
    );
    assert.ok(report.requests > 0, `${step}: load ran`);
    assert.equal(report.failed, 0, `${step}: failed requests ${JSON.stringify(report.non2xx)} ${JSON.stringify(report.errors)}`);
    assert.deepEqual(report.errors, {}, `${step}: connection errors`);
    assert.ok(rows.postsOk > 0, `${step}: the load wrote rows`);
    assert.equal(rows.lost, 0, `${step}: answered 2xx but no row`);
    assert.equal(rows.rowsTwice, 0, `${step}: rows written twice`);
  };
  /** `action` leaves the stack file, the history and the running service as they were. */
  const unchanged = async (what: string, action: () => Promise<unknown>) => {
    const file = readFileSync(stackFile);
    const updates = (await history(stack)).length;
    const before = await running();
    await action();
    assert.deepEqual(readFileSync(stackFile), file, `${what}: the stack file is unchanged`);
    assert.equal((await history(stack)).length, updates, `${what}: no update was recorded`);
    assert.deepEqual(await running(), before, `${what}: the service is unchanged`);
  };
  /** A refusal: the verb rejects with `pattern` and changes nothing. */
  const refused = (what: string, pattern: RegExp, action: () => Promise<unknown>) =>
    unchanged(what, () =>
      assert.rejects(action(), (e: Error) => {
        assert.match(e.message, pattern, what);
        console.log(`refused (${what}): ${e.message}`);
        return true;
      }),
    );

  // v1 (#1) → v2 (#2, a new image) → v3 (#3, config only: replicas 3 and FEATURE=broken).
  await promote(v1);
  const first = await infra();
  assert.deepEqual(await running(), { version: "v1", db: "ok", replicas: 2, feature: "" });
  await promote(v2);
  await stack.setConfig("slipway:api.replicas", { value: "3" }, true);
  await stack.setConfig("slipway:api.env.FEATURE", { value: "broken" }, true);
  await deploy(stack, "config: replicas 3, FEATURE=broken", log);
  assert.deepEqual(await running(), { version: "v2", db: "ok", replicas: 3, feature: "FEATURE=broken" });

  // rollback → the config-only release is undone: v2 with 2 replicas, no FEATURE (#4 "rollback to #2").
  let result: Awaited<ReturnType<typeof rollback>> | undefined;
  await underLoad("rollback 1 (v3 → v2: config only)", async () => {
    result = await rollback(stack, { reason: "FEATURE=broken breaks checkout", log });
  });
  assert.equal(result!.to.position, 2);
  assert.deepEqual(await running(), { version: "v2", db: "ok", replicas: 2, feature: "" });
  assert.deepEqual((await stack.getConfig("slipway:api.replicas", true)).value, "2");

  // rollback again → two releases back: v1 (#5 "rollback to #1"), not back to v3.
  await underLoad("rollback 2 (v2 → v1: image)", async () => {
    result = await rollback(stack, { log });
  });
  assert.equal(result!.to.position, 1);
  assert.deepEqual(await running(), { version: "v1", db: "ok", replicas: 2, feature: "" });
  const h = await history(stack);
  assert.match(h[0]!.message!, new RegExp(`^rollback to #1 ${v1.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} \\(image sha256:[0-9a-f]{64}\\)$`));
  assert.match(h[1]!.message!, /^rollback to #2 .* — FEATURE=broken breaks checkout$/);

  // Nothing earlier than v1 along the chain.
  await refused("nothing earlier", /nothing earlier to roll back to on stack "rb[0-9a-f]+": the running release #5 .* restored #1 .*its first release/, () => rollback(stack, { log }));

  // --list: every update with position, outcome, image and message; the running release marked.
  const list = await listReleases(stack);
  console.log(list);
  assert.match(list, /#5\s.*succeeded\s.*rollback to #1 .* {3}← running/);
  assert.match(list, /#3\s.*succeeded\s.*config: replicas 3, FEATURE=broken/);

  // --to 3: forward again to the config-only release, by position (#6 "rollback to #3"); a dry run first changes nothing.
  await unchanged("dry run", async () => {
    const dry = await rollback(stack, { to: 3, dryRun: true, log });
    assert.deepEqual(dry.plan.changes, [`images.api: ${v1} → ${v2}`, 'api.env.FEATURE: (unset) → "broken"', "api.replicas: 2 → 3"]);
    assert.equal(dry.outputs, undefined);
  });
  await underLoad("rollback 3 (--to 3: v1 → v2 with replicas 3, FEATURE)", async () => {
    result = await rollback(stack, { to: 3, reason: "try FEATURE again", log });
  });
  assert.equal(result!.to.position, 3);
  assert.deepEqual(await running(), { version: "v2", db: "ok", replicas: 3, feature: "FEATURE=broken" });

  // An image removed from the host: refused before anything changes.
  execFileSync("docker", ["rmi", "-f", v1], { stdio: "ignore" });
  await refused("image not on the host", new RegExp(`the API image ${v1.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not on the Docker host of stack "${name}" \\(the local Docker engine\\); nothing was changed`), () => rollback(stack, { to: 1, log }));

  // A locked stack (an update running, or a killed one's lock): refused, the stack file put back byte for byte.
  const lockDir = join(ps.backendDir, ".pulumi", "locks", "organization", "slipway", name);
  mkdirSync(lockDir, { recursive: true });
  const lockFile = join(lockDir, `${randomBytes(8).toString("hex")}.json`);
  writeFileSync(lockFile, JSON.stringify({ pid: 4242, username: "ci", hostname: "build-7", timestamp: new Date().toISOString() }));
  await refused("stack locked", /stack "rb[0-9a-f]+" is locked: an update is running.*nothing was changed[\s\S]*created by ci@build-7 \(pid 4242\)[\s\S]*--show-urns[\s\S]*pulumi cancel/, () => rollback(stack, { log }));
  rmSync(lockFile);

  // The CLI is a thin wrapper over the same verb: --list by stack name, and an unknown stack is an error (never created).
  const cli = (stack: string) =>
    spawnSync(process.execPath, rollbackVerb({ stack, list: true }).slice(1) /* its "node" is this one */, {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir },
      timeout: 120_000,
    });
  const listed = cli(name);
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /#6\s.*rollback to #3 .*try FEATURE again {3}← running/);
  const unknown = cli(`${name}x`);
  assert.equal(unknown.status, 1, unknown.stdout);
  assert.match(unknown.stderr, /rollback failed: .*does not exist/);

  // Never the database or the edge holder, never images.postgres or images.edge.
  assert.deepEqual(await infra(), first);
  assert.equal((await stack.outputs()).dbContainer?.value, dbContainer);
});
