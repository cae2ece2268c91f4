// Verbs and deploys do not race (src/docker/stack-lock.ts), on a real stack: a restore started while a promote's
// migration runs waits for the deploy's lock, then restores and runs the running image's migrations — no replica is
// left on a schema without its migration; `maintenance on` issued during an edge image handover is applied after the
// deploy (which also runs a slow migration) and is still on at the new edge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { backup } from "../../src/backup/backup";
import { maintenanceState } from "../../src/edge/maintenance";
import { deriveApiImage } from "../support/derived-images";
import { smallStackConfig } from "../support/project-stack";
import { engineEnv, repoRoot } from "../support/pulumi";
import { restoreScenario } from "../support/restore-scenario";

/** A verb run as the operator runs it, its stderr lines timestamped as they arrive. */
function runVerb(env: NodeJS.ProcessEnv, file: string, args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", `src/cli/${file}.ts`, ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  const lines: Array<{ at: number; line: string }> = [];
  let stdout = "";
  let rest = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop()!;
    for (const line of parts) lines.push({ at: Date.now(), line });
  });
  const done = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, lines, done, stdout: () => stdout, text: () => lines.map((l) => l.line).join("\n") + "\n" + rest };
}

test("a restore during a promote's migration waits for the deploy; maintenance on during an edge handover is on afterwards", { timeout: 30 * 60_000 }, async (t) => {
  const { name, ps, docker, dir, images, sqlIn } = await restoreScenario(t, "lk", {
    config: ({ images, port }) => smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, replicas: 1 }),
  });
  const up1 = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(up1.summary.result, "succeeded");
  const dbContainer = up1.outputs.dbContainer!.value as string;
  const url = up1.outputs.edgeUrl!.value as string;
  const sql = sqlIn(dbContainer);
  const lockName = `${ps.prefix}-lock`;
  const lockHolder = async () => (await docker.getContainer(lockName).inspect().catch(() => undefined))?.Config.Labels["slipway.lock.holder"];
  assert.equal(await lockHolder(), undefined, "the deploy released its lock");
  const old = await backup({ prefix: ps.prefix, dbContainer, dir, imageTag: "before-v2" });
  const env = { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir };

  // v2 brings a slow migration: while it runs, the deploy holds the stack's lock.
  const tag = name.replace(/[^a-z0-9]/g, "");
  const v2 = deriveApiImage({
    from: images.api,
    ref: `slipway/api:lock-${tag}`,
    version: "v2",
    migration: { name: "1900000000000_slow-probe", sql: "-- Up Migration\nSELECT pg_sleep(20);\nCREATE TABLE lock_probe (id int);\n\n-- Down Migration\nDROP TABLE lock_probe;\n" },
  });
  t.after(() => execFileSync("docker", ["rmi", "-f", v2], { stdio: "ignore" }));
  await ps.stack.setConfig("slipway:images.api", { value: v2 }, true);
  const up2 = ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  const migrating = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()";
  for (let i = 0; (await sql(migrating)) === "0"; i++) {
    assert.ok(i < 600, "the deploy's migration never started");
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(await lockHolder(), "deploy", "the deploy holds the stack's lock during its migration");
  const restore = runVerb(env, "restore", ["--stack", name, "--file", old.file]);
  // the migration finishes while the restore waits
  let migratedAt = 0;
  for (let i = 0; !migratedAt; i++) {
    assert.ok(i < 1200, "the deploy's migration never finished");
    if ((await sql("SELECT count(*) FROM pg_tables WHERE tablename = 'lock_probe'")) === "1") migratedAt = Date.now();
    else await new Promise((r) => setTimeout(r, 200));
  }
  const r2 = await up2;
  assert.equal(r2.summary.result, "succeeded");
  const code = await restore.done;
  const text = restore.text();
  console.log(text);
  assert.equal(code, 0, text);
  assert.match(text, new RegExp(`lock: ${lockName} is held by deploy \\(pid \\d+ on .*\\); waiting up to 600 s for it`));
  const took = restore.lines.find((l) => l.line === `lock: took ${lockName} for restore`);
  assert.ok(took, text);
  assert.ok(took.at > migratedAt, `the restore took the lock ${took.at - migratedAt} ms after the deploy's migration finished`);
  // the restored (older) data got the running image's migration again: nothing serves a schema without it
  assert.match(text, /migrations: done .*"applied":\["1900000000000_slow-probe"\]/);
  assert.equal(await sql("SELECT count(*) FROM pg_tables WHERE tablename = 'lock_probe'"), "1");
  assert.equal(await sql("SELECT count(*) FROM pgmigrations WHERE name = '1900000000000_slow-probe'"), "1");
  assert.equal((await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).status, 200);
  assert.equal(await lockHolder(), undefined, "the restore released the lock");

  // An edge image handover: `maintenance on` issued once the deploy holds the lock is applied after it, at the new edge.
  const edge2 = `slipway/edge:lock-${tag}`;
  execFileSync("docker", ["build", "-q", "-t", edge2, "-"], { input: `FROM ${images.edge}\nLABEL slipway.test.lock=${tag}\n`, stdio: ["pipe", "ignore", "inherit"] });
  t.after(() => execFileSync("docker", ["rmi", "-f", edge2], { stdio: "ignore" }));
  const edgeBefore = (await ps.stack.outputs()).edgeContainer?.value;
  await ps.stack.setConfig("slipway:images.edge", { value: edge2 }, true);
  // with a slow migration beside it, so the deploy still holds the lock when the verb (seconds to start) asks for it
  const v3 = deriveApiImage({
    from: v2,
    ref: `slipway/api:lock3-${tag}`,
    version: "v3",
    migration: { name: "1900000000001_slow-again", sql: "-- Up Migration\nSELECT pg_sleep(30);\n\n-- Down Migration\nSELECT 1;\n" },
  });
  t.after(() => execFileSync("docker", ["rmi", "-f", v3], { stdio: "ignore" }));
  await ps.stack.setConfig("slipway:images.api", { value: v3 }, true);
  const up3 = ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  for (let i = 0; (await lockHolder()) !== "deploy"; i++) {
    assert.ok(i < 600, "the deploy never took the lock");
    await new Promise((r) => setTimeout(r, 100));
  }
  const maintenance = runVerb(env, "maintenance", ["--stack", name, "on", "--message", "Planned work (lock test)"]);
  const r3 = await up3;
  assert.equal(r3.summary.result, "succeeded");
  const mcode = await maintenance.done;
  assert.equal(mcode, 0, maintenance.text());
  assert.match(maintenance.text(), new RegExp(`lock: ${lockName} is held by deploy`));
  assert.equal(await maintenanceState(docker, ps.prefix), "Planned work (lock test)", "maintenance is on at the edge after the handover");
  const h = await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(h.status, 503, "clients get the maintenance answer");
  const running = await docker.listContainers({ filters: { label: [`slipway.stack=${ps.prefix}`, "slipway.role=edge"] } });
  const names = running.map((c) => c.Names[0]!.replace(/^\//, ""));
  assert.equal(names.length, 1, `one edge runs: ${names.join(", ")}`);
  assert.notEqual(names[0], edgeBefore, "the handover replaced the HAProxy");
  assert.equal((await ps.stack.outputs()).edgeContainer?.value, names[0]);
  const off = runVerb(env, "maintenance", ["--stack", name, "off"]);
  assert.equal(await off.done, 0, off.text());
  const preview = await ps.stack.preview({ expectNoChanges: true });
  assert.equal(preview.changeSummary.update ?? 0, 0);
});
