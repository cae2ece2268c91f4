// `npm run restore` on a real stack (`pulumi up`: PostgreSQL, two API replicas, HAProxy), the verb run as the
// operator runs it, with load through the edge: by default it turns maintenance on at the edge (clients get only
// 503 + Retry-After, never a 500 or a broken connection), replaces the database with an OLDER dump (a schema
// before the API's migration, no tables added since), runs the running API image's migrations so the schema
// matches the code, and turns maintenance off (200s again) — no container restarted. `--no-maintenance` leaves
// the edge alone and says so; a restore that fails (a lock held past --lock-timeout) changes nothing and turns
// maintenance off again, and so does an interrupted one (Ctrl-C ends its database session); maintenance the operator
// had on stays on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import * as path from "node:path";
import { connectDocker, execInContainer } from "../../src/docker";
import { maintenanceState, setMaintenance } from "../../src/edge/maintenance";
import { backup } from "../../src/backup/backup";
import { RESTORE_MAINTENANCE_MESSAGE } from "../../src/restore/frame";
import { startLoad } from "../support/load";
import { smallStackConfig } from "../support/project-stack";
import { restoreScenario } from "../support/restore-scenario";

/** Every container of the stack with its id, creation time and restart count: any restart or replacement shows. */
async function containerIds(prefix: string): Promise<Map<string, string>> {
  const docker = connectDocker();
  const list = await docker.listContainers({ filters: { label: [`slipway.stack=${prefix}`] } });
  const entries = await Promise.all(list.map(async (c) => [c.Names[0]!, `${c.Id}@${c.Created}#${(await docker.getContainer(c.Id).inspect()).RestartCount}`] as const));
  return new Map(entries);
}

/** Polls `url` until stopped: every status seen, and whether each 503 was the maintenance answer (Retry-After, JSON body). */
function sampler(url: string) {
  const seen: Array<{ status: number; maintenance: boolean }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(15_000) });
        const body = await r.text();
        seen.push({ status: r.status, maintenance: r.status === 503 && r.headers.get("retry-after") === "60" && body.includes('"error":"maintenance"') });
      } catch {
        seen.push({ status: 0, maintenance: false });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

test("restore drives maintenance mode and the running image's migrations under load; --no-maintenance leaves the edge alone", { timeout: 30 * 60_000 }, async (t) => {
  const { name, ps, docker, dir, restore: verb, spawnRestore, sqlIn } = await restoreScenario(t, "rm", {
    config: ({ images, port }) => smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, replicas: 2 }),
  });
  const up = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(up.summary.result, "succeeded");
  const url = up.outputs.edgeUrl!.value as string;
  const dbContainer = up.outputs.dbContainer!.value as string;
  const sql = sqlIn(dbContainer);
  /** Until another session holds a lock on `table` (a fixed sleep was not enough on a loaded machine). */
  const lockHeld = async (table: string) => {
    for (let i = 0; i < 100; i++) {
      if (Number(await sql(`SELECT count(*) FROM pg_locks WHERE relation = '${table}'::regclass AND granted AND pid <> pg_backend_pid()`)) > 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no session took a lock on ${table}`);
  };
  const tables = () => sql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'");

  // Dump "current": the schema as deployed (items, migrated), with rows.
  for (const n of ["one", "two"]) assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: n }) })).status, 201);
  assert.equal(await tables(), "items,pgmigrations");
  const current = await backup({ prefix: ps.prefix, dbContainer, dir, imageTag: "current" });
  // Dump "old": as before the API's migration — no items table, no migration recorded — with a table of its own.
  await sql("DROP TABLE items; DELETE FROM pgmigrations; CREATE TABLE legacy (id int PRIMARY KEY); INSERT INTO legacy SELECT generate_series(1, 3)");
  await new Promise((r) => setTimeout(r, 1100)); // another second, another file name
  const old = await backup({ prefix: ps.prefix, dbContainer, dir, imageTag: "old" });

  // The database container says which environment's data it holds; an --environment against it is refused, naming both.
  assert.equal((await docker.getContainer(dbContainer).inspect()).Config.Labels["slipway.environment"], "staging");
  const contradicted = await verb(["--file", current.file, "--environment", "production"]);
  assert.equal(contradicted.code, 2, contradicted.stderr);
  assert.match(contradicted.stderr, new RegExp(`--environment production contradicts the database: database container '${dbContainer}' is labelled slipway\\.environment=staging`));

  // --no-maintenance: the edge is not touched (no maintenance answer ever), and the data is "current" again.
  const quiet = sampler(`${url}/health`);
  const r1 = await verb(["--file", current.file, "--no-maintenance"]);
  const quietSeen = await quiet.stop();
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stderr, /maintenance: skipped — --no-maintenance/);
  assert.match(r1.stderr, /migrations: will run those of the running API image/);
  assert.match(r1.stderr, /edge: the edge was not touched \(maintenance skipped\)/);
  assert.equal(quietSeen.filter((s) => s.maintenance).length, 0, "no maintenance answer with --no-maintenance");
  assert.ok(quietSeen.length > 0);
  assert.equal(await tables(), "items,pgmigrations", "legacy (added after this dump) is gone");
  assert.equal(await sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "one,two");
  assert.equal((await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "three" }) })).status, 201);
  await sql("CREATE TABLE added_later (x int); INSERT INTO added_later VALUES (1)");

  // The default: restore the OLD dump under load through the edge.
  const before = await containerIds(ps.prefix);
  const load = startLoad({ url, connections: 12, maxSeconds: 600, mix: "items", postShare: 0.3, slowShare: 0.1, slowMs: 500, fastMs: 50 });
  t.after(() => load.stop()); // a failed assertion must not leave the load running
  await new Promise((r) => setTimeout(r, 3000));
  const watch = sampler(`${url}/health`);
  const r2 = await verb(["--file", old.file, "--maintenance-message", "Restoring; back in a minute"]);
  const seen = await watch.stop();
  await new Promise((r) => setTimeout(r, 3000));
  const report = await load.stop();
  console.log(`restore under load: ${report.requests} requests, non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}\n${r2.stderr}`);
  assert.equal(r2.code, 0, r2.stderr);

  // Each step said, in order: plan, maintenance on, restore, migrations, maintenance off, the edge's state.
  const steps = [
    /maintenance: will turn ON at the edge of 'slipway-rm\w+' for the restore, and off after it/,
    /migrations: will run those of the running API image /,
    /maintenance: turned ON at slipway-rm\w+-haproxy-\w+ \(clients get 503 with Retry-After\)/,
    /safety dump: dumping the current data of database 'app' into /,
    /safety dump: \/\S+-pre-restore\.dump \(\d+ bytes, sha256 [0-9a-f]{12}…; kept/,
    /restoring into database 'app' in one transaction \(replacing its schemas; lock timeout 30000 ms\)/,
    /restored in [\d.]+ s/,
    /migrating: node dist\/api\/migrate\.js in slipway-rm\w+-restore-migrate-\w+ on network /,
    /migrations: done .*"applied":\["1732240000000_create-items"\]/,
    /maintenance: turned OFF/,
    /edge: maintenance turned off again: the edge serves traffic/,
  ];
  let at = 0;
  for (const step of steps) {
    const i = r2.stderr.slice(at).search(step);
    assert.ok(i >= 0, `step ${String(step)} (in order) in:\n${r2.stderr}`);
    at += i;
  }
  assert.match(r2.stdout, /^restored .*-old\.dump into database 'app' of stack 'slipway-rm\w+'; the data it replaced is in \S+-pre-restore\.dump; maintenance turned off again/);
  // the safety dump holds what the restore replaced (added_later, the items written before it), kept beside the backups
  const safety = /the data it replaced is in (\S+-pre-restore\.dump);/.exec(r2.stdout)![1]!;
  assert.equal(path.dirname(safety), dir);
  const listing = await execInContainer(docker, dbContainer, ["pg_restore", "--list"], { stdin: createReadStream(safety) });
  assert.equal(listing.exitCode, 0, listing.stderr);
  assert.match(listing.stdout, /TABLE public added_later /);
  assert.match(listing.stdout, /TABLE DATA public items /);

  // The data is the old dump's, migrated up to what the running code expects.
  assert.equal(await tables(), "items,legacy,pgmigrations", "added_later is gone; items is back by migration");
  assert.equal(await sql("SELECT count(*) FROM legacy"), "3");
  assert.equal(await sql("SELECT string_agg(name, ',') FROM pgmigrations"), "1732240000000_create-items");
  assert.equal(await maintenanceState(docker, ps.prefix), undefined, "maintenance is off");
  assert.equal(await docker.listContainers({ all: true, filters: { label: [`slipway.stack=${ps.prefix}`, "slipway.role=migrate"] } }).then((l) => l.length), 0, "the migration container is gone");

  // Clients: the maintenance answer while it was on, 200s before and after — never a 500 or a broken connection.
  const maintenanceAnswers = seen.filter((s) => s.maintenance).length;
  assert.ok(maintenanceAnswers > 0, "the sampler saw the maintenance answer");
  assert.deepEqual(seen.filter((s) => s.status !== 200 && !s.maintenance), [], "every answer a 200 or the maintenance 503");
  assert.ok((report.non2xx["503"] ?? 0) > 0, "the load saw the maintenance answer");
  assert.deepEqual(Object.keys(report.non2xx).filter((c) => c !== "503"), [], `only 503s: ${JSON.stringify(report.non2xx)}`);
  assert.deepEqual(report.errors, {}, "no connection errors");
  // The first request sent after the verb returned (the sampler's last one may have left while maintenance was on).
  assert.equal((await fetch(`${url}/health`, { signal: AbortSignal.timeout(10_000) })).status, 200, "200 again at the end");
  const post = await fetch(`${url}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after" }) });
  assert.equal(post.status, 201, "the API writes to the migrated table");
  assert.deepEqual(await containerIds(ps.prefix), before, "no container was restarted or replaced");

  // A failed restore (a lock held past --lock-timeout) changes nothing and turns maintenance off again.
  const holder = sql("BEGIN; LOCK TABLE legacy IN ACCESS SHARE MODE; SELECT pg_sleep(15); COMMIT;");
  await lockHeld("legacy");
  const r3 = await verb(["--file", current.file, "--lock-timeout", "1500"]);
  await holder;
  assert.equal(r3.code, 1, r3.stderr);
  assert.match(r3.stderr, /maintenance: turned ON[\s\S]*failed and was rolled back, so the data is as it was: another session held a lock .*lock timeout/);
  assert.match(r3.stderr, /Edge: maintenance turned off again: the edge serves traffic\s*$/, "the last line says the edge's state");
  assert.equal(await maintenanceState(docker, ps.prefix), undefined);
  assert.equal(await tables(), "items,legacy,pgmigrations", "the data is as it was");
  assert.equal((await fetch(`${url}/health`)).status, 200);

  // Interrupted (Ctrl-C) while the restore waits for a lock: its session is ended (rolled back), maintenance goes off.
  const holder2 = sql("SET application_name = 'rm-holder'; BEGIN; LOCK TABLE legacy IN ACCESS SHARE MODE; SELECT pg_sleep(120); COMMIT;").catch(() => "cancelled");
  await lockHeld("legacy");
  const child = spawnRestore(["--file", current.file, "--lock-timeout", "120000"]);
  let err5 = "";
  child.stderr.on("data", (d: Buffer) => (err5 += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    for (const deadline = Date.now() + 120_000; (await sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway-restore' AND wait_event_type = 'Lock'")) !== "1"; ) {
      assert.ok(Date.now() < deadline, `the restore never waited on the lock:\n${err5}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await maintenanceState(docker, ps.prefix), RESTORE_MAINTENANCE_MESSAGE, "maintenance is on while the restore waits");
    child.kill("SIGINT");
    assert.equal(await exited, 1, err5);
  } finally {
    child.kill("SIGKILL");
    await sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'rm-holder'");
    await holder2;
  }
  assert.match(err5, /interrupted \(SIGINT\): ending the restore's session in the database \(it rolls back\)/);
  assert.match(err5, /restore into database 'app' interrupted \(SIGINT\): its session was ended and rolled back, so the data is as it was/);
  assert.match(err5, /Edge: maintenance turned off again: the edge serves traffic\s*$/);
  assert.equal(await maintenanceState(docker, ps.prefix), undefined);
  assert.equal(await sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway-restore'"), "0");
  assert.equal(await tables(), "items,legacy,pgmigrations", "the interrupted restore committed nothing");

  // Maintenance the operator turned on stays on, with the operator's message, whatever restore does.
  await setMaintenance(docker, ps.prefix, true, "Planned work until 14:00");
  const r4 = await verb(["--file", current.file, "--no-migrate"]);
  assert.equal(r4.code, 0, r4.stderr);
  assert.match(r4.stderr, /maintenance: already ON at the edge of 'slipway-rm\w+' \("Planned work until 14:00"\); restore leaves it on/);
  assert.match(r4.stderr, /migrations: skipped — --no-migrate/);
  assert.match(r4.stderr, new RegExp(`edge: maintenance stays ON, as it was before the restore; turn it off with \`npm run maintenance -- --stack ${name} off\``));
  assert.equal(await maintenanceState(docker, ps.prefix), "Planned work until 14:00");
  assert.equal(await tables(), "items,pgmigrations");
  await setMaintenance(docker, ps.prefix, false);
});
