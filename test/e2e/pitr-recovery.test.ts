// Point-in-time recovery on a production-shaped stack (`pulumi up` of the real program, real PostgreSQL with
// pgBackRest): backup.wal switched on for a stack that already holds rows keeps them (the container is replaced,
// the data volume is not) and leaves `preview --expect-no-changes` empty; a routine deploy keeps the database
// container and takes a differential base backup first; an archive that stops shows in /health and
// in slipway_wal_archive_failing (what the WalArchiveFailing alert reads), and recovers when repaired; rows are written continuously through the
// edge, the time T is noted, more rows are written, then "someone drops a table" — the RUNBOOK's story. The operator
// verb refuses (changing nothing) a time outside the recovery window, naming it, and production without --yes; then
// `npm run restore -- --to-time T --yes` brings back every row committed before T and none sent after it, counted,
// with the same database container (preview still empty) and the API writing again. Then the database container and
// its data volume are destroyed under load and `restore --to-latest` rebuilds them from the repository volume: rows
// lost are only those of the last archive_timeout, counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { execInContainer, execText } from "../../src/docker";
import { maintenanceState } from "../../src/edge/maintenance";
import { deriveApiImage } from "../support/derived-images";
import { productionShape } from "../support/deploy-scenario";
import { writeContinuously } from "../support/load";
import { pulumiCli } from "../support/pulumi";
import { restoreScenario } from "../support/restore-scenario";

/** archive_timeout of the test stack (the default is 60 s; a shorter one only makes the test quicker to reason about). */
const ARCHIVE_TIMEOUT_S = 10;
/** How long a broken (or repaired) archive may take to show in /health: PostgreSQL's archiver retries within 60 s. */
const ARCHIVE_VISIBLE_BUDGET_MS = Number(process.env.PITR_ARCHIVE_VISIBLE_BUDGET_MS ?? 120_000);
/** Seconds beyond archive_timeout a segment may take to reach the repository (archive-push on a loaded machine). */
const ARCHIVE_SLACK_S = Number(process.env.PITR_ARCHIVE_SLACK_S ?? 5);
/** Budget for the whole restore verb on a loaded 2-core machine. */
const RESTORE_BUDGET_MS = Number(process.env.PITR_RESTORE_BUDGET_MS ?? 5 * 60_000);

test("backup.wal on an existing stack keeps its data; restore --to-time T brings back every row committed before T and none after; a lost container + volume --to-latest loses at most archive_timeout", { timeout: 30 * 60_000 }, async (t) => {
  const uploads = (name: string) => `slipway-${name}-uploads`;
  const { name, images, ps, docker, restore, sqlIn } = await restoreScenario(t, "pitr", {
    config: ({ name, images, port, dir }) => productionShape({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, backupDir: dir, volume: uploads(name) }),
    volumes: (name) => [uploads(name)],
  });
  const log = (s: string) => process.stderr.write(s);
  const up = async (message: string) => {
    const r = await ps.stack.up({ message, onOutput: log, color: "never" });
    assert.equal(r.summary.result, "succeeded");
    return r;
  };
  const previewEmpty = async () => {
    try {
      await ps.stack.preview({ expectNoChanges: true, color: "never" });
      return "";
    } catch (e) {
      return (e as Error).message.slice(-2000);
    }
  };
  const started = Date.now();

  // A stack without archiving, with a row in it.
  const first = await up("without wal");
  const url = first.outputs.edgeUrl!.value as string;
  const dbContainer = first.outputs.dbContainer!.value as string;
  const sql = sqlIn(dbContainer);
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "before-wal" }) })).status, 201);

  // Switched on (with the image that has pgBackRest): the container is replaced, the data is kept, a full base backup taken.
  const stackFile = join(ps.workDir, `Pulumi.${name}.yaml`);
  const file = parse(readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
  file.config["slipway:images"] = { ...(file.config["slipway:images"] as object), postgres: images.postgresWal };
  file.config["slipway:backup"] = { ...(file.config["slipway:backup"] as object), wal: { enabled: true, archiveTimeoutSeconds: ARCHIVE_TIMEOUT_S } };
  writeFileSync(stackFile, stringify(file));
  // Production protects the database container: replacing it is a deliberate act, as the RUNBOOK says (§2 "What each change costs").
  await pulumiCli(ps, ["state", "unprotect", `urn:pulumi:${name}::slipway::slipway:index:Database$docker:index/container:Container::db-container`, "--yes"]);
  await up("wal on");
  assert.equal(await sql("SELECT count(*) FROM items WHERE name = 'before-wal'"), "1", "switching archiving on kept the data");
  assert.equal(await sql("SHOW archive_mode"), "on");
  assert.equal(await sql("SHOW archive_timeout"), `${ARCHIVE_TIMEOUT_S}s`);
  /** pgBackRest in the database container, as its postgres user (as the program and the verb run it). */
  const pgbackrest = async (...args: string[]) => {
    const r = await execInContainer(docker, dbContainer, ["pgbackrest", ...args], { user: "postgres" });
    assert.equal(r.exitCode, 0, `pgbackrest ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const info = await pgbackrest("info", "--output=json");
  assert.match(info, /"type":"full"/, "a full base backup was taken when archiving was switched on");
  assert.equal(await previewEmpty(), "", "preview right after the up that switched archiving on is empty");
  // A routine deploy (a new API image) keeps the database container and takes a differential base backup first.
  const beforeDeploy = (await docker.getContainer(dbContainer).inspect()).Id;
  const v2 = deriveApiImage({ from: images.api, ref: `${images.api}-${name}-v2`, version: "v2" });
  t.after(() => docker.getImage(v2).remove({ force: true }).catch(() => undefined));
  const file2 = parse(readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
  file2.config["slipway:images"] = { ...(file2.config["slipway:images"] as object), api: v2 };
  writeFileSync(stackFile, stringify(file2));
  const deployed = await up("routine deploy");
  assert.equal((await docker.getContainer(dbContainer).inspect()).Id, beforeDeploy, "a routine deploy does not replace the database container");
  assert.match(await pgbackrest("info", "--output=json"), /"type":"diff"/, "the deploy took a differential base backup");
  assert.equal(await previewEmpty(), "", "preview right after the routine deploy is empty");
  const { Id: dbId, State: { StartedAt: dbStarted } } = await docker.getContainer(dbContainer).inspect();
  const health = async () => (await (await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).json()) as { checks?: Record<string, string>; errors?: Record<string, string> };
  // /metrics is not served at the edge (Prometheus scrapes the replicas on the internal network): ask a replica.
  const replica = (deployed.outputs.apiContainers!.value as string[])[0]!;
  const failingGauge = async () =>
    /^slipway_wal_archive_failing (\d)/m.exec(await execText(docker, replica, ["node", "-e", "fetch('http://127.0.0.1:3000/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"], undefined, 30_000))?.[1];
  assert.equal((await health()).checks?.walArchive, "ok", "/health reports the archive");
  assert.equal(await failingGauge(), "0");

  // An archive that stops is visible: the repository made unwritable, a segment switched → /health fails naming it,
  // slipway_wal_archive_failing 1 (what WalArchiveFailing reads); repaired → ok again, nothing lost from the archive.
  await execText(docker, dbContainer, ["chmod", "000", "/var/lib/pgbackrest"]);
  await sql("INSERT INTO items (name) VALUES ('while-archive-broken'); SELECT pg_switch_wal()");
  const visible = async (want: "fail" | "ok", gauge: string) => {
    for (const deadline = Date.now() + ARCHIVE_VISIBLE_BUDGET_MS; ; ) {
      const h = await health();
      if (h.checks?.walArchive === want && (await failingGauge()) === gauge) return h;
      assert.ok(Date.now() < deadline, `walArchive never became ${want}: ${JSON.stringify(h)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  const broken = await visible("fail", "1");
  log(`health with the archive broken: ${JSON.stringify(broken)}\n`);
  assert.equal(broken.errors, undefined, "through the edge: which check fails, not the archive's error text");
  // On the replica itself (what the RUNBOOK tells the operator to run), the reason.
  const inside = await execText(docker, replica, ["node", "-e", "fetch('http://127.0.0.1:3000/health').then((r) => r.text()).then((t) => process.stdout.write(t))"], undefined, 30_000);
  assert.match((JSON.parse(inside) as { errors?: Record<string, string> }).errors?.walArchive ?? "", /^archiving WAL fails: [0-9A-F]{24} failed at /);
  await execText(docker, dbContainer, ["chmod", "750", "/var/lib/pgbackrest"]);
  await sql("SELECT pg_switch_wal()");
  await visible("ok", "0");
  const setupS = (Date.now() - started) / 1000;

  // Rows written continuously through the edge; T noted in the middle; more rows; then the accident.
  const writer = writeContinuously(url, name, 4);
  t.after(() => writer.stop()); // a failed assertion must not leave the writers running (the process would never end)
  await new Promise((r) => setTimeout(r, 6000));
  const T = new Date();
  await new Promise((r) => setTimeout(r, 4000));
  const writes = await writer.stop();
  await sql("DROP TABLE items");

  const verb = (args: string[]) => restore(args, RESTORE_BUDGET_MS);

  // Refusals, before anything changes: a time before the oldest base backup (the window is named), production without --yes.
  const early = await verb(["--to-time", "2020-01-01T00:00:00Z", "--yes"]);
  assert.equal(early.code, 1, early.stderr);
  assert.match(early.stderr, new RegExp(`--to-time 2020-01-01T00:00:00.000Z is outside the recovery window of stack '${name}': \\S+ \\(end of the oldest base backup, \\S+F\\) to \\S+ \\(now\\)`));
  const unconfirmed = await verb(["--to-time", T.toISOString()]);
  assert.equal(unconfirmed.code, 1);
  assert.match(unconfirmed.stderr, /production and there is no terminal to confirm on; pass --yes/);
  const zoneless = await verb(["--to-time", "2026-12-05T14:03:00", "--yes"]);
  assert.equal(zoneless.code, 2, zoneless.stderr);
  assert.match(zoneless.stderr, /not an ISO 8601 time with a zone/);
  assert.equal(await sql("SELECT to_regclass('items') IS NULL"), "t", "the refusals changed nothing");
  assert.equal((await docker.getContainer(dbContainer).inspect()).State.StartedAt, dbStarted, "the refusals did not touch the database container");

  // The restore to T.
  const restoreStart = Date.now();
  const r = await verb(["--to-time", T.toISOString(), "--yes"]);
  const restoreS = (Date.now() - restoreStart) / 1000;
  log(r.stderr);
  assert.equal(r.code, 0, r.stderr);
  const steps = [
    /recovery window: .* to .* \(now\)/,
    /maintenance: turned ON/,
    /archiving the current WAL segment \(pgbackrest check\)/,
    /stopping database container/,
    /restoring the data directory: pgbackrest restore --delta --type=time --target=.* --target-action=promote/,
    /recovery: last transaction replayed committed at .*; promoted onto timeline \d+/,
    /archive_timeout in force again \(checkpointer woken: pg_reload_conf\)/,
    /database restored to .*: out of recovery and accepting writes/,
    /migrations: done/,
    /maintenance: turned OFF/,
  ];
  let at = 0;
  for (const step of steps) {
    const i = r.stderr.slice(at).search(step);
    assert.ok(i >= 0, `step ${String(step)} (in order) in:\n${r.stderr}`);
    at += i;
  }

  // Counted: every row acknowledged before T is back; none whose request left after T.
  const present = new Set((await sql("SELECT name FROM items WHERE name LIKE '" + name + "-%'")).split("\n").filter(Boolean));
  const ackedBefore = writes.filter((w) => w.ackAt !== undefined && w.ackAt < T.getTime());
  const sentAfter = writes.filter((w) => w.sentAt > T.getTime());
  const inFlight = writes.filter((w) => w.sentAt <= T.getTime() && (w.ackAt === undefined || w.ackAt >= T.getTime()));
  const missing = ackedBefore.filter((w) => !present.has(w.name));
  const resurrected = sentAfter.filter((w) => present.has(w.name));
  const acked = writes.filter((w) => w.ackAt !== undefined).length;
  console.log(
    `pitr: setup ${setupS.toFixed(0)} s; ${writes.length} writes (${acked} acknowledged), ${ackedBefore.length} acknowledged before T, ` +
      `${sentAfter.length} sent after T, ${inFlight.length} in flight at T (${inFlight.filter((w) => present.has(w.name)).length} of them present); ` +
      `after the restore: ${present.size} rows present, ${missing.length} acknowledged-before-T missing, ${resurrected.length} sent-after-T present; restore verb ${restoreS.toFixed(1)} s`,
  );
  assert.ok(ackedBefore.length > 20 && sentAfter.filter((w) => w.ackAt !== undefined).length > 10, "rows were written on both sides of T");
  assert.deepEqual(missing.map((w) => w.name), [], "every row committed before T is back");
  assert.deepEqual(resurrected.map((w) => w.name), [], "no row written after T is back");
  assert.equal(await sql("SELECT count(*) FROM items WHERE name IN ('before-wal', 'while-archive-broken')"), "2");

  // The same container (Pulumi's), the edge serving, the API writing, nothing for Pulumi to change.
  assert.equal((await docker.getContainer(dbContainer).inspect()).Id, dbId, "the database container was restarted, not replaced");
  assert.equal(await maintenanceState(docker, ps.prefix), undefined, "maintenance is off");
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after-restore" }) })).status, 201);
  assert.equal(await previewEmpty(), "", "preview after the restore is empty");
  // Archiving goes on, on the new timeline: a check archives a fresh segment.
  await pgbackrest("check");

  // The database host is gone: its container and data volume destroyed under load; restore --to-latest rebuilds the
  // data volume from the repository volume and has Pulumi create the container again. Rows lost: at most those
  // committed in the last archive_timeout before the loss (not yet archived), counted.
  const writer2 = writeContinuously(url, `${name}x`, 4);
  t.after(() => writer2.stop());
  const writer2Start = Date.now();
  // The loss comes once the segment holding the writers' first rows is archived (what --to-latest can bring back) and
  // at least two archive_timeouts of writing have passed: a budget, not a fixed sleep — on a loaded machine
  // archive-push lags, and a loss before any of these rows was archived would prove nothing.
  await new Promise((r) => setTimeout(r, 2000));
  const firstSegment = await sql("SELECT pg_walfile_name(pg_current_wal_lsn())");
  const archiver = () => sql("SELECT concat_ws(' ', 'last archived', last_archived_wal, 'at', last_archived_time, '; failed', failed_count, last_failed_wal, last_failed_time) FROM pg_stat_archiver");
  while ((await sql(`SELECT last_archived_wal >= '${firstSegment}' FROM pg_stat_archiver`)) !== "t") {
    assert.ok(Date.now() < writer2Start + ARCHIVE_VISIBLE_BUDGET_MS, `segment ${firstSegment} (the writers' first rows) not archived within ${ARCHIVE_VISIBLE_BUDGET_MS} ms: ${await archiver()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const firstArchivedS = (Date.now() - writer2Start) / 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, writer2Start + (2 * ARCHIVE_TIMEOUT_S + 5) * 1000 - Date.now())));
  const archiverAtLoss = await archiver();
  const lostAt = Date.now();
  await docker.getContainer(dbContainer).remove({ force: true });
  await docker.getVolume(`${ps.prefix}-pgdata`).remove();
  await new Promise((r) => setTimeout(r, 2000));
  const latestStart = Date.now();
  const r2 = await verb(["--to-latest", "--yes"]);
  const latestS = (Date.now() - latestStart) / 1000;
  await new Promise((r) => setTimeout(r, 3000));
  const writes2 = await writer2.stop();
  log(r2.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  for (const step of [/is gone: restoring its data volume from the WAL repository/, /data volume '.*-pgdata' created again/, /pgbackrest restore --delta --type=default into volume/, /pulumi up --refresh/, /recovery: last transaction replayed committed at .*; promoted onto timeline \d+/, /archive_timeout in force again/, /out of recovery and accepting writes/, /maintenance: turned OFF/]) {
    assert.match(r2.stderr, step);
  }
  const present2 = new Set((await sql(`SELECT name FROM items WHERE name LIKE '${name}x-%'`)).split("\n").filter(Boolean));
  const ackedBeforeLoss = writes2.filter((w) => w.ackAt !== undefined && w.ackAt < lostAt);
  const lost = ackedBeforeLoss.filter((w) => !present2.has(w.name));
  const afterRestore = writes2.filter((w) => w.ackAt !== undefined && w.sentAt > latestStart + latestS * 1000);
  const oldestLostS = lost.length ? (lostAt - Math.min(...lost.map((w) => w.ackAt!))) / 1000 : 0;
  console.log(
    `pitr latest: ${ackedBeforeLoss.length} rows acknowledged before the loss, ${lost.length} lost (the oldest lost acknowledged ${oldestLostS.toFixed(1)} s before it; ` +
      `archive_timeout ${ARCHIVE_TIMEOUT_S} s); restore --to-latest ${latestS.toFixed(1)} s; ${afterRestore.length} rows written after it, ${afterRestore.filter((w) => present2.has(w.name)).length} present; ` +
      `the writers' first segment ${firstSegment} archived ${firstArchivedS.toFixed(1)} s after they started; at the loss (${new Date(lostAt).toISOString()}): ${archiverAtLoss}`,
  );
  assert.ok(ackedBeforeLoss.length > 50, "rows were written before the loss");
  assert.ok(ackedBeforeLoss.some((w) => present2.has(w.name)), "rows archived before the loss are back");
  assert.ok(oldestLostS <= ARCHIVE_TIMEOUT_S + ARCHIVE_SLACK_S, `only rows of the last archive_timeout (${ARCHIVE_TIMEOUT_S} s + ${ARCHIVE_SLACK_S} s to archive) may be lost; one was acknowledged ${oldestLostS.toFixed(1)} s before`);
  assert.ok(afterRestore.length > 0 && afterRestore.every((w) => present2.has(w.name)), "the API writes again after the restore");
  assert.equal(await sql("SELECT count(*) FROM items WHERE name IN ('before-wal', 'while-archive-broken', 'after-restore')"), "3");
  assert.equal(await maintenanceState(docker, ps.prefix), undefined, "maintenance is off");
  assert.equal(await previewEmpty(), "", "preview after the rebuild is empty");
});
