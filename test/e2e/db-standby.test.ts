// Hot standby and failover on a production-shaped stack (`pulumi up` of the real program, real PostgreSQL, the
// operator's `npm run failover`), the story of RUNBOOK "The database host is gone":
//  1. database.standby.enabled: `<prefix>-db-standby` is seeded from the primary and streams through its slot (the
//     replicas' slipway_db_standby_streaming / _lag_bytes say so), and `preview --expect-no-changes` is empty; the
//     replication role's password is a 0600 passfile in the standby, in no `docker inspect`, state or `pulumi up` output; switched
//     synchronous (the second stack), the primary names it in synchronous_standby_names and it is a `sync` standby;
//  2. under write load through the edge, the primary is SIGKILLed (`docker kill`) and the operator runs
//     `npm run failover -- --stack S`: failed writes are only those sent before the kill (in flight on the lost
//     primary), no row is written twice, and the rows lost are counted — asynchronous (the default): only rows
//     acknowledged in the last second before the kill may be; synchronous (a second stack): none, every acknowledged
//     row is on the promoted standby. The failover's seconds are measured;
//  3. the old primary is fenced: restart policy no, off the backend network; started by hand it comes up read-only in
//     recovery and `db` does not resolve to it;
//  4. the next `pulumi up` (database.standby.serving: standby, as the failover recorded it) replaces neither database
//     container, the API keeps writing, and `preview --expect-no-changes` is empty.
//  5. a standby again: `npm run reseed` (refused without --yes, changing nothing) seeds the fenced member from the
//     promoted one: streaming, its restart policy and network back without the `db` alias, a row written through the
//     edge on it; a second reseed does nothing; the next up replaces nothing and its preview is empty; a switchover
//     back (`failover --yes`) makes it the primary again. Synchronous: seeded right after the failover (no up in
//     between), commits wait for it again (sync_state sync).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { execInContainer, execText } from "../../src/docker";
import { DATA_PASSFILE, memberNames, standbyVolume, STANDBY_SLOT } from "../../src/postgres/standby";
import { pollUntil } from "../../src/vocabulary";
import { productionShape } from "../support/deploy-scenario";
import { writeContinuously } from "../support/load";
import { engineEnv, pulumiCli, repoRoot } from "../support/pulumi";
import { runStatus } from "../support/project-stack";
import { restoreScenario, type VerbRun } from "../support/restore-scenario";

/** How long the replicas wait for a database connection meanwhile (database.standby.apiWaitSeconds). */
const API_WAIT_S = 60;
/** After `docker kill` returns, how long the replicas may still hand a request a pooled connection to the dead primary. */
const IN_FLIGHT_GRACE_MS = 1000;
/** Budget for `npm run failover` on a loaded 2-core machine (it needs seconds on a quiet one). */
const FAILOVER_BUDGET_MS = Number(process.env.STANDBY_FAILOVER_BUDGET_MS ?? 3 * 60_000);
/** Budget for `npm run reseed` (a pg_basebackup of a small database, and the first streaming). */
const RESEED_BUDGET_MS = Number(process.env.STANDBY_RESEED_BUDGET_MS ?? 10 * 60_000);

/** A production-shaped stack with a standby, created (not deployed), and what the scenarios do with it. */
async function standbyStack(t: TestContext, tag: string, synchronous: boolean) {
  const uploads = (name: string) => `slipway-${name}-uploads`;
  const sc = await restoreScenario(t, tag, {
    config: ({ name, images, port, dir }) => {
      const c = productionShape({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, backupDir: dir, volume: uploads(name) });
      return { ...c, database: { ...(c.database as object), standby: { enabled: true, synchronous, apiWaitSeconds: API_WAIT_S } } };
    },
    volumes: (name) => [uploads(name), standbyVolume(`slipway-${name}`)],
  });
  const { name, ps } = sc;
  let output = "";
  const log = (s: string) => {
    output += s;
    process.stderr.write(s);
  };
  return {
    ...sc,
    /** everything `pulumi up` printed so far */
    output: () => output,
    members: memberNames(ps.prefix),
    stackPath: join(ps.workDir, `Pulumi.${name}.yaml`),
    async up(message: string) {
      const r = await ps.stack.up({ message, onOutput: log, color: "never" });
      assert.equal(r.summary.result, "succeeded");
      return r;
    },
    async previewEmpty() {
      try {
        await ps.stack.preview({ expectNoChanges: true, color: "never" });
        return "";
      } catch (e) {
        return (e as Error).message.slice(-3000);
      }
    },
    /** `npm run failover -- --stack <name> …`, as the operator runs it, to its end. */
    failoverVerb: (args: string[]) => verb("failover", args),
    /** `npm run reseed -- --stack <name> …`, likewise. */
    reseedVerb: (args: string[]) => verb("reseed", args),
  };
  function verb(which: "failover" | "reseed", args: string[]) {
    return new Promise<VerbRun & { seconds: number }>((resolve) => {
        const started = Date.now();
        const env = { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir };
        const child = spawn("npm", ["run", "--silent", which, "--", "--stack", name, ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
          log(d.toString());
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), which === "failover" ? FAILOVER_BUDGET_MS : RESEED_BUDGET_MS);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
        });
      });
  }
}
type StandbyStack = Awaited<ReturnType<typeof standbyStack>>;

/** Deployed: the standby streams (pg_stat_replication, the replicas' gauges); the preview after the up is empty. */
async function deployStreaming(s: StandbyStack) {
  const first = await s.up("with a standby");
  assert.equal(first.outputs.dbContainer!.value, s.members.db);
  assert.equal(first.outputs.dbStandbyContainer!.value, s.members.standby);
  const primarySql = s.sqlIn(s.members.db);
  assert.equal(await s.sqlIn(s.members.standby)("SELECT pg_is_in_recovery()"), "t", "the standby is in recovery");
  await pollUntil(async () => ((await primarySql("SELECT state FROM pg_stat_replication WHERE application_name = 'slipway_standby'")) === "streaming" ? true : undefined), { timeoutMs: 60_000, onTimeout: () => new Error("the standby does not stream") });
  const replica = (first.outputs.apiContainers!.value as string[])[0]!;
  const m = await execText(s.docker, replica, ["node", "-e", "fetch('http://127.0.0.1:3000/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"], undefined, 30_000);
  assert.match(m, new RegExp(`^slipway_db_standby_streaming\\{slot="${STANDBY_SLOT}"\\} 1$`, "m"), "the streaming gauge");
  const lag = new RegExp(`^slipway_db_standby_lag_bytes\\{slot="${STANDBY_SLOT}"\\} (\\d+)$`, "m").exec(m);
  assert.ok(lag, `the lag gauge: ${m.split("\n").filter((l) => l.includes("standby")).join(" | ")}`);
  console.log(`standby streaming; lag ${lag[1]} bytes`);
  assert.equal(await s.previewEmpty(), "", "preview right after the up with a standby is empty");
  return { url: first.outputs.edgeUrl!.value as string, replica, primarySql };
}

/** Writers through the edge, the primary SIGKILLed, `npm run failover`, more writes; what failed and what the promoted standby holds. */
async function killAndFailOver(s: StandbyStack, url: string, replica: string) {
  const { docker, members, name } = s;
  // Longer than the replicas' wait for a connection (API_WAIT_S): a request that waits out the failover is answered.
  const load = writeContinuously(url, `w${name}`, 8, (API_WAIT_S + 30) * 1000);
  await pollUntil(async () => (load.acked() >= 100 ? true : undefined), { timeoutMs: 60_000, onTimeout: () => new Error(`the writers got ${load.acked()} acknowledgements in 60 s`) });
  const killAt = Date.now();
  const ackedBeforeKill = load.acked();
  await docker.getContainer(members.db).kill({ signal: "SIGKILL" });
  const killedAt = Date.now();
  const afterKill = await docker.getContainer(members.db).inspect();
  console.log(`primary SIGKILLed with ${ackedBeforeKill} writes acknowledged (running after the kill: ${afterKill.State.Running})`);
  const verb = await s.failoverVerb([]);
  const failoverDoneAt = Date.now();
  assert.equal(verb.code, 0, `npm run failover: ${verb.stderr}`);
  const done = new RegExp(`${members.standby} is the primary, ${members.db} fenced \\((\\d+\\.\\d) s\\)`).exec(verb.stdout);
  assert.ok(done, verb.stdout);
  // The writers keep going on the promoted standby.
  const ackedAtFailover = load.acked();
  await pollUntil(async () => (load.acked() >= ackedAtFailover + 100 ? true : undefined), { timeoutMs: 120_000, onTimeout: () => new Error(`no writes acknowledged after the failover (${load.acked()})`) });
  const writes = await load.stop();
  const failed = writes.filter((w) => w.status !== 201);
  const acked = writes.filter((w) => w.ackAt !== undefined);
  const newSql = s.sqlIn(members.standby);
  const stored = new Map<string, number>();
  for (const line of (await newSql(`SELECT name, count(*) FROM items WHERE name LIKE 'w${name}-%' GROUP BY name`)).split("\n").filter(Boolean)) {
    const [n, c] = line.split("|");
    stored.set(n!, Number(c));
  }
  const kinds = new Map<string, number>();
  for (const w of failed) {
    const kind = `${w.status} ${w.failure} (${w.sentAt > killAt ? "after" : "before"} the kill, ${Math.round((w.endAt! - w.sentAt) / 1000)} s)`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  // In flight on the lost primary: sent before the kill returned, or in the moment after it before the replicas saw its
  // connections close (a request then takes a pooled connection that is already dead): IN_FLIGHT_GRACE_MS.
  const f = {
    killAt,
    failedInFlight: failed.filter((w) => w.sentAt <= killedAt + IN_FLIGHT_GRACE_MS),
    failedAfter: failed.filter((w) => w.sentAt > killedAt + IN_FLIGHT_GRACE_MS),
    lost: acked.filter((w) => !stored.has(w.name)),
    twice: [...stored.values()].filter((c) => c > 1).length,
  };
  const maxWait = Math.max(...acked.filter((w) => w.sentAt > killAt).map((w) => w.ackAt! - w.sentAt), 0);
  console.log(
    `failover: verb ${verb.seconds.toFixed(1)} s, of it fence → alias moved ${done[1]} s (kill → verb done ${((failoverDoneAt - killAt) / 1000).toFixed(1)} s); writes ${writes.length}, acknowledged ${acked.length} ` +
    `(${ackedBeforeKill} before the kill), failed ${failed.length} (${failed.filter((w) => w.sentAt <= killAt).length} sent before the kill, ${failed.filter((w) => w.sentAt > killAt && w.sentAt <= killedAt).length} during it (${killedAt - killAt} ms), ${f.failedInFlight.length - failed.filter((w) => w.sentAt <= killedAt).length} in the ${IN_FLIGHT_GRACE_MS} ms after, ${f.failedAfter.length} later) ${JSON.stringify(Object.fromEntries(kinds))}, ` +
    `rows lost ${f.lost.length}${f.lost.length ? ` (acknowledged ${f.lost.map((w) => (w.ackAt! < killAt ? `${killAt - w.ackAt!} ms before the kill` : `${w.ackAt! - killAt} ms into the kill call`)).join(", ")})` : ""}, rows twice ${f.twice}, longest wait of a write sent after the kill ${(maxWait / 1000).toFixed(1)} s`,
  );
  if (f.failedAfter.length > 0) {
    const tail = await docker.getContainer(replica).logs({ stdout: true, stderr: true, tail: 400 });
    console.log(`replica ${replica}, its log lines about the database:\n${tail.toString("utf8").split("\n").filter((l) => /database|connect|ENOTFOUND|EAI_AGAIN|terminat/i.test(l)).slice(-15).map((l) => l.slice(0, 300)).join("\n")}`);
  }
  assert.deepEqual(f.failedAfter.map((w) => `${w.name}:${w.status}@+${w.sentAt - killedAt}ms`), [], "no write sent after the kill failed: it waited for the promoted standby");
  assert.ok(f.failedInFlight.length <= 16, `only the writers' requests in flight at the kill failed (${f.failedInFlight.length}, 8 writers)`);
  assert.equal(f.twice, 0, "no row written twice");
  assert.equal(await newSql("SELECT pg_is_in_recovery()"), "f", "the promoted standby is a primary");
  return f;
}

test("database.standby (asynchronous): a streaming standby; SIGKILL of the primary under load, npm run failover: only in-flight writes fail, only rows acknowledged in the last second may be lost; the old primary fenced; the next pulumi up replaces nothing", { timeout: 20 * 60_000 }, async (t) => {
  const s = await standbyStack(t, "hsb", false);
  const { docker, members, ps } = s;
  const started = Date.now();
  const { url, replica, primarySql } = await deployStreaming(s);
  assert.equal(await primarySql("SELECT count(*) FROM pg_roles WHERE rolname = 'slipway_replicator' AND rolreplication AND NOT rolsuper"), "1", "a replication role, not a superuser");
  assert.equal((await docker.getContainer(members.standby).inspect()).Config.Env?.some((e) => /PASSWORD/.test(e)), false, "no password in the standby's environment");
  // The replication role's password: a 0600 passfile of postgres in the standby, and nowhere an observer looks.
  assert.equal(await execText(docker, members.standby, ["stat", "-c", "%a %U", "/var/lib/postgresql/.slipway-replication.pgpass"]).then((o) => o.trim()), "600 postgres");
  const replicationPassword = (await execText(docker, members.standby, ["cat", "/var/lib/postgresql/.slipway-replication.pgpass"])).trim().split(":").pop()!;
  assert.ok(replicationPassword.length >= 32, "the passfile holds the generated password");
  const inspect = JSON.stringify(await Promise.all([members.db, members.standby].map((n) => docker.getContainer(n).inspect())));
  const state = await pulumiCli(ps, ["stack", "export"]);
  assert.ok(!inspect.includes(replicationPassword), "not in docker inspect of either member");
  assert.ok(!state.includes(replicationPassword), "not in the Pulumi state in plaintext");
  assert.ok(!s.output().includes(replicationPassword), "not in the `pulumi up` output");
  assert.equal(await primarySql("SHOW synchronous_standby_names"), "", "asynchronous by default");
  const ids = { db: (await docker.getContainer(members.db).inspect()).Id, standby: (await docker.getContainer(members.standby).inspect()).Id };
  console.log(`deployed with a standby in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const f = await killAndFailOver(s, url, replica);
  // Asynchronous: a commit is acknowledged once it is on the primary's disk; what the standby had not received yet
  // when the primary died is lost — only the last moment's rows.
  assert.deepEqual(f.lost.filter((w) => w.ackAt! < f.killAt - 1000).map((w) => `${w.name} acked ${f.killAt - w.ackAt!} ms before the kill`), [], "no row acknowledged more than a second before the kill is lost");

  // 3. The old primary is fenced: it cannot come back as a writer.
  const fenced = await docker.getContainer(members.db).inspect();
  assert.equal(fenced.State.Running, false);
  assert.equal(fenced.HostConfig.RestartPolicy?.Name, "no", "Docker will not restart it");
  assert.deepEqual(Object.keys(fenced.NetworkSettings.Networks ?? {}).filter((n) => n.includes(ps.prefix)), [], "off the stack's networks");
  const stackFile = parse(readFileSync(s.stackPath, "utf8")) as { config: Record<string, { standby?: { serving?: string } }> };
  assert.equal(stackFile.config["slipway:database"]?.standby?.serving, "standby", "the failover recorded the serving member in the stack file");
  await docker.getContainer(members.db).start();
  await pollUntil(async () => ((await execInContainer(docker, members.db, ["pg_isready", "-U", "app"]).catch(() => ({ exitCode: 1 }))).exitCode === 0 ? true : undefined), { timeoutMs: 120_000, onTimeout: () => new Error(`the fenced ${members.db} does not start`) });
  assert.equal(await primarySql("SELECT pg_is_in_recovery()"), "t", "started by hand, the fenced old primary is in recovery");
  const write = await execInContainer(docker, members.db, ["psql", "-U", "app", "-d", "app", "-Atc", "INSERT INTO items (name) VALUES ('split-brain')"]);
  assert.notEqual(write.exitCode, 0);
  assert.match(write.stderr, /read-only transaction/, "the fenced old primary refuses writes");
  const resolved = (await execText(docker, replica, ["node", "-e", "require('dns').lookup('db', { all: true }, (e, a) => process.stdout.write(e ? e.code : a.map((x) => x.address).join(',')))"], undefined, 30_000)).trim();
  const promotedIps = Object.values((await docker.getContainer(members.standby).inspect()).NetworkSettings.Networks ?? {}).map((n) => n.IPAddress);
  assert.ok(resolved !== "" && resolved.split(",").every((ip) => promotedIps.includes(ip)), `db resolves to the promoted standby only (${resolved}; its addresses ${promotedIps.join(",")})`);
  await docker.getContainer(members.db).stop({ t: 10 });

  // 4. The next deploy replaces no database container; the preview after it is empty.
  const after = await s.up("after the failover");
  assert.equal(after.outputs.dbContainer!.value, members.standby);
  assert.equal((await docker.getContainer(members.db).inspect()).Id, ids.db, "the fenced container was not re-created");
  assert.equal((await docker.getContainer(members.db).inspect()).State.Running, false, "nor started");
  assert.equal((await docker.getContainer(members.standby).inspect()).Id, ids.standby, "the promoted standby was not re-created");
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after-up" }) })).status, 201);
  assert.equal(await s.previewEmpty(), "", "preview after the failover and the next up is empty");
  // npm run status says it, and exits 1 (the on-call's smoke test).
  const noStandby = runStatus(ps);
  assert.equal(noStandby.status, 1, noStandby.stdout + noStandby.stderr);
  assert.match(noStandby.stdout, new RegExp(`hot standby ${members.db}: NOT streaming \\(container exited\\)`));
  assert.match(noStandby.stdout, new RegExp(`hot standby ${members.db} is not streaming from ${members.standby}.*npm run reseed`));
  const refused = await s.failoverVerb([]);
  assert.notEqual(refused.code, 0, "a second failover is refused: there is no standby");
  assert.match(refused.stderr, /slipway-\S+-db was fenced by a failover.*npm run reseed/);

  // 5. A standby again: `npm run reseed` seeds the fenced member from the promoted one; then a failover back.
  const unconfirmed = await s.reseedVerb([]);
  assert.notEqual(unconfirmed.code, 0);
  assert.match(unconfirmed.stderr, /empties \S+-db's data directory \(fenced by the failover.*Pass --yes/);
  assert.equal((await docker.getContainer(members.db).inspect()).HostConfig.RestartPolicy?.Name, "no", "refused, it changed nothing");
  const reseeded = await s.reseedVerb(["--yes"]);
  assert.equal(reseeded.code, 0, `npm run reseed: ${reseeded.stderr}`);
  assert.match(reseeded.stdout, new RegExp(`reseed of ${s.name}: ${members.db} is a standby of ${members.standby}, streaming \\(([\\d.]+) s\\)`));
  console.log(`reseed: ${reseeded.seconds.toFixed(1)} s (the verb, npm and the Automation API included)`);
  const promotedSql = s.sqlIn(members.standby);
  assert.equal(await promotedSql("SELECT state FROM pg_stat_replication WHERE application_name = 'slipway_standby'"), "streaming");
  const member = await docker.getContainer(members.db).inspect();
  assert.equal(member.Id, ids.db, "the same container, its volume seeded again");
  assert.equal(member.HostConfig.RestartPolicy?.Name, "unless-stopped", "its declared restart policy back");
  assert.ok(Object.keys(member.NetworkSettings.Networks ?? {}).includes(`${ps.prefix}-backend`), "back on the backend network");
  assert.ok(!(member.NetworkSettings.Networks?.[`${ps.prefix}-backend`]?.Aliases ?? []).includes("db"), "without the db alias");
  assert.equal(await primarySql("SELECT pg_is_in_recovery()"), "t");
  assert.equal(await execText(docker, members.db, ["stat", "-c", "%a %U", `/var/lib/postgresql/data/${DATA_PASSFILE}`]).then((o) => o.trim()), "600 postgres", "its passfile in its data directory, 0600");
  assert.ok(!JSON.stringify(member).includes(replicationPassword), "the replication password in no docker inspect");
  const seeded = runStatus(ps);
  assert.match(seeded.stdout, new RegExp(`^database: ${members.standby} \\(running\\); hot standby ${members.db}: streaming, \\d+ bytes behind`, "m"), seeded.stdout);
  assert.doesNotMatch(seeded.stdout, /not streaming/);
  const again = await s.reseedVerb([]);
  assert.equal(again.code, 0, "a second reseed: nothing to do, even without --yes");
  assert.match(again.stdout, /streams from \S+ already; nothing done/);
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after-reseed" }) })).status, 201);
  await pollUntil(async () => ((await primarySql("SELECT count(*) FROM items WHERE name = 'after-reseed'")) === "1" ? true : undefined), { timeoutMs: 30_000, onTimeout: () => new Error("a row written through the edge does not reach the re-seeded standby") });
  const afterReseed = await s.up("after the reseed");
  assert.equal((await docker.getContainer(members.db).inspect()).Id, ids.db, "the next up replaces no database container");
  assert.equal((await docker.getContainer(members.standby).inspect()).Id, ids.standby);
  assert.equal(afterReseed.outputs.dbContainer!.value, members.standby);
  assert.equal(await s.previewEmpty(), "", "preview after the reseed and the next up is empty");

  // A switchover back (the primary running: --yes) under writes: the re-seeded member serves, nothing written twice.
  const back = await s.failoverVerb(["--yes"]);
  assert.equal(back.code, 0, `the failover back: ${back.stderr}`);
  assert.match(back.stdout, new RegExp(`${members.db} is the primary, ${members.standby} fenced`));
  // A pooled connection to the member just stopped may fail one request: the operator's client retries (a 5xx is never a write).
  await pollUntil(async () => ((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after-failback" }) }).then((r) => r.status).catch(() => 0)) === 201 ? true : undefined), { timeoutMs: 90_000, intervalMs: 1000, onTimeout: () => new Error("no write answered 201 after the failover back") });
  assert.equal(await primarySql("SELECT count(*) FROM items WHERE name IN ('after-up', 'after-reseed', 'after-failback')"), "3", "every row on the member serving again");
  const backFile = parse(readFileSync(s.stackPath, "utf8")) as { config: Record<string, { standby?: { serving?: string } }> };
  assert.equal(backFile.config["slipway:database"]?.standby?.serving, "db");
  console.log(`asynchronous scenario ${((Date.now() - started) / 1000).toFixed(0)} s`);
});

test("database.standby.synchronous: SIGKILL of the primary right after acknowledged writes, npm run failover: every acknowledged row is on the promoted standby", { timeout: 20 * 60_000 }, async (t) => {
  const s = await standbyStack(t, "hss", true);
  const started = Date.now();
  const { url, replica, primarySql } = await deployStreaming(s);
  assert.equal(await primarySql("SHOW synchronous_standby_names"), "slipway_standby");
  assert.equal(await primarySql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'slipway_standby'"), "sync");
  const f = await killAndFailOver(s, url, replica);
  assert.deepEqual(f.lost.map((w) => `${w.name} acked ${f.killAt - w.ackAt!} ms before the kill`), [], "every acknowledged row is on the promoted standby (synchronous commits)");
  // Seeded again with no deploy in between: synchronous commits wait for it again.
  const reseeded = await s.reseedVerb(["--yes"]);
  assert.equal(reseeded.code, 0, `npm run reseed: ${reseeded.stderr}`);
  const promotedSql = s.sqlIn(s.members.standby);
  assert.equal(await promotedSql("SHOW synchronous_standby_names"), "slipway_standby", "synchronous again");
  assert.equal(await promotedSql("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'slipway_standby'"), "sync");
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "sync-again" }) })).status, 201);
  // flushed there before the 201 (synchronous_commit on); replayed, visible, a moment later
  await pollUntil(async () => ((await primarySql("SELECT count(*) FROM items WHERE name = 'sync-again'")) === "1" ? true : undefined), { timeoutMs: 30_000, onTimeout: () => new Error("an acknowledged row is not on the re-seeded standby") });
  console.log(`synchronous scenario ${((Date.now() - started) / 1000).toFixed(0)} s`);
});
