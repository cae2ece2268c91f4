// The Swarm target on the three-node lab (tools/swarm-lab().sh), driven as an operator drives it: `pulumi up` of a
// production-shaped stack with `slipway:target: swarm` and the manager as dockerHost. Proven here: the first up
// answers through every edge node with an empty preview after it and no secret value in any service's spec; a promote
// (new image tag) under load through an edge node: 0 failed, 0 rows written twice, preview empty; backups through the
// manager (the promote's pre-deploy one, `npm run backup` under load), verified, as the owner role; `npm run restore`
// of that dump under load: maintenance at every edge node (only 503s meanwhile), the dump's rows exactly, the
// migrations as a one-off task, nothing left; a broken image: the
// up fails naming the reason, the old release keeps serving, 0 failed; an API env change and a rollback from the
// stack's history under load: 0 failed, 0 rows twice, preview empty; blue-green under load: the new service staged
// idle and switched, the old one the standby, the rollback a switch back to it (no service started), rolling again
// removes it, 0 failed, preview empty after each; canary under load: a good image's one task takes 25 % then 50 % at
// every edge task, each share judged on the edge's access log and passed, then all 3 replicas — 0 failed; a faulty
// image (500 on half its requests) fails the first gate, its service removed, the up fails quoting the figures, the
// failed requests users saw counted; a service an interrupted run left in the other colour, taking requests: the
// preview names it, the next up that releases nothing drains and removes it — 0 failed; edge config and image changes under load: the up
// succeeds, every edge node serves them, 0 rows twice, Swarm's configs pruned (the one before kept); maintenance mode
// at every edge node, kept across a config change, a new edge task's split named by status; a worker drained under load: 0 failed; a node
// killed under load — the manager dockerHost names, after pointing it there released nothing and ran no task: only
// requests in flight on it fail (counted, printed), 0 rows twice, 3 API tasks running on the survivors within
// SLIPWAY_SWARM_KILL_BOUND_MS (default 180 s); an up through the dead manager fails naming it, pointed at another
// manager a promote under load drops nothing; started again, the node rejoins and serves without a deploy. The
// database's node killed under load for SLIPWAY_SWARM_DB_NODE_DOWN_MS (20 s): writes answer 503 meanwhile, requests
// that need no database fail only in flight on its API task; started again, Swarm restarts PostgreSQL on its volume,
// writes answer again (the time measured), every acknowledged row is there, nothing twice, no deploy. Then the
// database's node lost for good under load, as RUNBOOK §8 says: maintenance on, the label moved, the roles task run
// again, the last dump restored — its rows, no request meets the empty database, the time measured. Last, HTTPS:
// the certificate a Swarm secret the edge's tasks fetch; a renewal under HTTPS load: 0 failed, every node presents it.
// The lab is taken exclusively (the drain). The lab's overlays cannot carry ESP here: swarm.encrypted is off and the
// networks' options are asserted to say so (unit tests assert it is on by default).
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { missingDockerd, missingPulumi, missingRoot, skipUnless } from "../support/prerequisites";
import { freePort, runStatus } from "../support/project-stack";
import { diagnosticsOf, engineEnv, pulumiCli, repoRoot } from "../support/pulumi";
import { backupVerb } from "../../src/backup/verb";
import { connectDocker, execText } from "../../src/docker";
import { withDbClient } from "../../src/swarm/db-client";
import { ROLES } from "../../src/vocabulary";
import { waitFor } from "../support/swarm-lab";
import { assertZeroDowntime } from "../support/deploy-scenario";
import { FAULT_HALF_OF_REQUESTS } from "../support/derived-images";
import { countRows, startLoad } from "../support/load";
import { startSwarmScenario, type SwarmScenario } from "../support/swarm-scenario";
import { rollback, type RollbackResult } from "../../src/release/rollback";
import { certificate, httpsGet } from "../support/tls";

const execFileAsync = promisify(execFile);
const skip = skipUnless([missingRoot("start the lab's dockerd nodes"), missingDockerd(), missingPulumi()]);
const KILL_BOUND_MS = Number(process.env.SLIPWAY_SWARM_KILL_BOUND_MS ?? 180_000);
const CONNECTIONS = 30;
/** How long each canary share is held (30 connections through one edge node: a few hundred canary requests at 25 %). */
const CANARY_STEP_SECONDS = Number(process.env.SLIPWAY_SWARM_CANARY_STEP_S ?? 10);
const log = (s: string) => process.stderr.write(s);

let s: SwarmScenario;
let victimKilled = false;
let dbNodeKilled = false;
/** The node the database's label was moved to by the test of its loss (put back before the stack is destroyed). */
let dbLabelMovedTo: string | undefined;
/** How long the database's node stays down in its test (the API answers 503 to writes meanwhile). */
const DB_NODE_DOWN_MS = Number(process.env.SLIPWAY_SWARM_DB_NODE_DOWN_MS ?? 20_000);
/** From the database node's start to a write answered 201 through the edge: its dockerd, Swarm's restart of PostgreSQL, recovery. */
const DB_NODE_BACK_BOUND_MS = Number(process.env.SLIPWAY_SWARM_DB_NODE_BACK_BOUND_MS ?? 300_000);

// The scenario's parts, by the names the tests use.
const lab = () => s.lab;
const edgeUrl = (i: number) => s.edgeUrl(i);
const get = (url: string) => s.get(url);
const up = (message: string) => s.up(message);
const measure = (step: string, deploy: () => Promise<unknown>, via = 0, url?: string) => s.measure(step, deploy, via, url);
const servingTasks = () => s.servingTasks();
const status = (flags: { json?: boolean } = {}) => runStatus(s.ps, flags);

/** A service's container env as `docker service inspect` shows it (JSON). */
async function serviceEnv(service: string): Promise<string> {
  return s.lab.cli(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", service]);
}

before(async () => {
  if (skip) return;
  s = await startSwarmScenario("swarm", { connections: CONNECTIONS, log });
});

after(async () => {
  if (!s) return;
  if (victimKilled) await s.lab.start(3).catch(() => undefined);
  if (dbNodeKilled) await s.lab.start(s.lab.databaseNode.index).catch(() => undefined);
  if (dbLabelMovedTo) {
    // The lab's labels as its other users expect them: the database's on its node again.
    await s.lab.cli(["node", "update", "--label-rm", "slipway.database", dbLabelMovedTo]).catch(() => undefined);
    await s.lab.cli(["node", "update", "--label-add", "slipway.database=true", s.lab.databaseNode.name]).catch(() => undefined);
  }
  const left = await s.cleanup();
  assert.deepEqual(left, [], "`pulumi destroy` leaves no config, secret or service of the stack in the swarm");
});

test("first up: the API answers through every edge node, the preview is empty, no secret value in any service spec", { skip, timeout: 30 * 60_000 }, async () => {
  const started = Date.now();
  await up("initial");
  console.log(`first up: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (let i = 0; i < lab().edgeNodes.length; i++) {
    const { ms } = await waitFor(`GET /health through ${lab().edgeNodes[i]!.name}`, 120_000, async () => ((await get(`${edgeUrl(i)}/health`)).status === 200 ? true : undefined));
    console.log(`${lab().edgeNodes[i]!.name}: /health 200 (${ms} ms after the up)`);
  }
  assert.equal(await s.previewComplaint(), "", "preview after the first up");

  // The overlays carry the encryption setting (off in the lab: no ESP in this kernel).
  for (const n of ["edge", "backend", "control"]) {
    const options = JSON.parse(await lab().cli(["network", "inspect", "--format", "{{json .Options}}", `${s.ps.prefix}-${n}`])) as Record<string, string> | null;
    assert.equal(options?.encrypted, undefined, `${n}: not encrypted, as swarm.encrypted: false says`);
  }
  // The API's tasks are spread over the nodes.
  const nodes = (await lab().cli(["service", "ps", `${s.ps.prefix}-api-a`, "--filter", "desired-state=running", "--format", "{{.Node}}"])).trim().split("\n");
  console.log(`API tasks on ${nodes.join(", ")}`);
  assert.equal(new Set(nodes).size, 3, "one API task per node");

  // Every generated password of the stack, from its state: none appears in any service's spec.
  const state = await s.ps.stack.exportStack();
  const passwords = (state.deployment.resources as { type: string; outputs?: { result?: unknown } }[])
    .filter((r) => r.type === "random:index/randomPassword:RandomPassword")
    .map((r) => (typeof r.outputs?.result === "string" ? r.outputs.result : JSON.stringify(r.outputs?.result ?? "")))
    .filter((p) => p.length >= 16);
  assert.ok(passwords.length >= 3, "the passwords are in the state");
  const services = (await lab().cli(["service", "ls", "-q", "--filter", `label=slipway.stack=${s.ps.prefix}`])).trim().split("\n").filter(Boolean);
  const inspected = await lab().cli(["service", "inspect", ...services]);
  for (const p of passwords) assert.ok(!inspected.includes(p), "no password in `docker service inspect`");
  assert.match(inspected, /PGPASSWORD_FILE=\/run\/secrets\/PGPASSWORD/);

  // `npm run status` through the manager: each task on its node, running, UP at both edge tasks → exit 0. A task short
  // (the service scaled down by hand) → exit 1, naming it; scaled back, healthy again.
  const serving = (await servingTasks()).service;
  const ok = status();
  assert.equal(ok.status, 0, `status: ${ok.stdout}${ok.stderr}`);
  console.log(ok.stdout);
  for (const node of lab().nodes) assert.match(ok.stdout, new RegExp(`^${serving}\\.[0-9a-z]{12}\\s+${node.name}\\s+[0-9a-f]{12}\\s+\\S+\\s+running\\s+healthy\\s+UP api/[ab]\\d+ at 2 edge tasks\\s+1$`, "m"), `a task on ${node.name}`);
  await lab().cli(["service", "scale", "--detach", `${serving}=2`]);
  try {
    const short = await waitFor("status to see 2 tasks", 120_000, async () => {
      const r = status({ json: true });
      return r.status === 1 ? r : undefined;
    });
    const report = JSON.parse(short.value.stdout) as { healthy: boolean; problems: string[] };
    assert.deepEqual(report.problems, ["2 of 3 API replicas are scheduled"], short.value.stdout);
  } finally {
    await lab().cli(["service", "scale", "--detach=false", `${serving}=3`]);
  }
  await waitFor("status healthy again", 180_000, async () => (status().status === 0 ? true : undefined));
});

test("promote under load through an edge node: 0 failed, 0 rows twice, preview empty", { skip, timeout: 30 * 60_000 }, async () => {
  const v2 = await s.apiImage("v2");
  const before = (await s.ps.stack.outputs()).apiContainers!.value as string[];
  let output = "";
  const f = await measure("promote", async () => {
    await s.setApiImage(v2);
    output = await up("promote v2");
  });
  assertZeroDowntime(f);
  // What the release did, in one line under the SwarmRelease (not the stack): the image, the colour it went to, the
  // service removed.
  const summary = diagnosticsOf(output, "pulumi-nodejs:dynamic/slipway:SwarmRelease (api)").filter((l) => l.startsWith("[release] release "));
  assert.equal(summary.length, 1, `one release line under the SwarmRelease:\n${output}`);
  assert.match(summary[0]!, new RegExp(`→[0-9a-f]{8}: 3 replicas of ${v2.replace(/[.:]/g, "\\$&")} as ${s.ps.prefix}-api-[ab], switched at every edge task, then ${before[0]} removed \\(changed: image\\)$`));
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.match((await get(`${edgeUrl(i)}/health`)).body, /v2/, `${lab().edgeNodes[i]!.name} serves v2`);
});

test("backups through the manager: the promote's pre-deploy backup verified; `npm run backup -- --stack` under load: 0 failed, 0 rows twice, verified, as the owner role from a client container that shows no password and is gone afterwards", { skip, timeout: 30 * 60_000 }, async () => {
  const dumps = () => readdirSync(s.backupDir).filter((f) => f.endsWith(".dump")).sort();
  const record = (dump: string) => JSON.parse(readFileSync(join(s.backupDir, `${dump}.verified.json`), "utf8")) as { ok: boolean; sourceCounts: Record<string, number>; restoredCounts: Record<string, number> };
  // Every release took one before its migrations (the first up's, the promote's), filed under the image's tag, proven.
  const v2Tag = s.apiImageRef("v2").split(":").pop()!;
  const before = dumps();
  const promoted = before.find((d) => d.endsWith(`-${v2Tag}.dump`));
  assert.ok(promoted, `the promote's pre-deploy backup is in ${s.backupDir}: ${before.join(", ")}`);
  assert.equal(record(promoted).ok, true, "and verified by a restore into a throwaway");
  assert.ok((record(promoted).sourceCounts["public.items"] ?? 0) > 0, "with the rows written before the promote");

  // The verb as an operator runs it, through the manager, while rows are written through an edge node.
  let out = "";
  let printed = "";
  const f = await measure("npm run backup", async () => {
    const { stdout, stderr } = await execFileAsync(process.execPath, backupVerb({ stack: s.ps.stackName, imageTag: "adhoc" }).slice(1), {
      cwd: repoRoot,
      env: { ...process.env, ...engineEnv(s.ps.backendDir), SLIPWAY_PROJECT_DIR: s.ps.workDir },
      timeout: 600_000,
    });
    out = `${stdout}${stderr}`;
    printed = stdout;
  });
  console.log(out.split("\n").filter((l) => /client|verified|backup ready|removed/.test(l)).join("\n"));
  assertZeroDowntime(f);
  const adhoc = dumps().find((d) => d.endsWith("-adhoc.dump"));
  assert.ok(adhoc, `npm run backup wrote a dump: ${out}`);
  assert.equal(printed.trim(), join(s.backupDir, adhoc), "it prints the dump's path on stdout");
  const proof = record(adhoc);
  assert.equal(proof.ok, true, JSON.stringify(proof));
  assert.ok((proof.sourceCounts["public.items"] ?? 0) >= (record(promoted).sourceCounts["public.items"] ?? 0), "rows counted in the dump's snapshot, as many as before or more");
  assert.match(out, new RegExp(`starting ${s.ps.prefix}-db-client-[0-9a-f]{8} on the manager .* as slipway_owner`));
  for (const role of [ROLES.dbClient, ROLES.backupVerify]) {
    assert.equal((await lab().cli(["ps", "-aq", "--filter", `label=slipway.role=${role}`])).trim(), "", `no ${role} container left on the manager`);
  }

  // The client itself: the owner role, no superuser; its password a 0400 file, in no part of `docker inspect`.
  const password = (await s.ps.stack.outputs()).dbOwnerPassword!.value as string;
  const docker = connectDocker(lab().dockerHost);
  const seen = await withDbClient(docker, { prefix: s.ps.prefix, service: `${s.ps.prefix}-db`, network: `${s.ps.prefix}-backend`, password }, {}, async (c) => ({
    inspect: JSON.stringify(await docker.getContainer(c.name).inspect()),
    who: (await execText(docker, c.name, ["psql", "--username", c.db.user, "--dbname", c.db.database, "-Atc", "select current_user || ' ' || rolsuper from pg_roles where rolname = current_user"])).trim(),
    mode: (await execText(docker, c.name, ["stat", "-c", "%a", "/run/secrets/PGPASSFILE"])).trim(),
  }));
  assert.equal(seen.who, "slipway_owner false", "the owner role, not a superuser");
  assert.equal(seen.mode, "400");
  assert.ok(!seen.inspect.includes(password), "the owner's password is not in the client container's inspect");
  assert.equal(await s.previewComplaint(), "", "preview after the backups");
});

test("restore on a swarm under load through an edge node: maintenance at every edge node (clients get only 503 + Retry-After), the dump's rows exactly, the data it replaced in a safety dump, the migrations as a one-off task, nothing left, preview empty", { skip, timeout: 30 * 60_000 }, async (t) => {
  const dumps = () => readdirSync(s.backupDir).filter((f) => f.endsWith(".dump")).sort();
  const adhoc = dumps().find((d) => d.endsWith("-adhoc.dump"));
  assert.ok(adhoc, `the backup test's dump is in ${s.backupDir}: ${dumps().join(", ")}`);
  const inDump = (JSON.parse(readFileSync(join(s.backupDir, `${adhoc}.verified.json`), "utf8")) as { sourceCounts: Record<string, number> }).sourceCounts["public.items"]!;
  const post = async (i: number, name: string) => (await fetch(`${edgeUrl(i)}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }), signal: AbortSignal.timeout(15_000) })).status;
  assert.equal(await post(0, "written-after-the-dump"), 201);

  // Writes through edge node 0; /health sampled through edge node 1 (maintenance must reach every edge task).
  const load = startLoad({ url: edgeUrl(0), allowHost: lab().edgeNodes[0]!.address, connections: 10, maxSeconds: 900, mix: "items", postShare: 0.5, slowShare: 0, fastMs: 50 });
  t.after(() => load.stop());
  const samples: { status: number; maintenance: boolean }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const r = await fetch(`${edgeUrl(1)}/health`, { signal: AbortSignal.timeout(15_000) });
        const body = await r.text();
        samples.push({ status: r.status, maintenance: r.status === 503 && r.headers.get("retry-after") !== null && body.includes('"error":"maintenance"') });
      } catch {
        samples.push({ status: 0, maintenance: false });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await new Promise((r) => setTimeout(r, 3000));
  const started = Date.now();
  const run = await execFileAsync(process.execPath, ["--import", "tsx", "src/cli/restore.ts", "--stack", s.ps.stackName, "--file", join(s.backupDir, adhoc), "--yes"], {
    cwd: repoRoot,
    env: { ...process.env, ...engineEnv(s.ps.backendDir), SLIPWAY_PROJECT_DIR: s.ps.workDir },
    timeout: 900_000,
  }).then((r) => ({ code: 0, ...r }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }));
  const seconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 3000));
  sampling = false;
  await sampler;
  const report = await load.stop();
  const rows = await countRows(report, load.idPrefix, (q) => s.sql(q));
  console.log(`restore on swarm: ${seconds.toFixed(1)} s; load through ${lab().edgeNodes[0]!.name}: ${report.requests} requests, non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}; /health through ${lab().edgeNodes[1]!.name}: ${samples.filter((x) => x.maintenance).length} maintenance answers of ${samples.length}\n${run.stderr}`);
  assert.equal(run.code, 0, run.stderr);

  // Each step said, in order — the same story as on one host, through the manager.
  const edgeNames = lab().edgeNodes.map((n) => `${s.ps.prefix}-edge on ${n.name}`).sort();
  const steps = [
    new RegExp(`starting ${s.ps.prefix}-db-client-[0-9a-f]{8} on the manager .* as slipway_owner`),
    new RegExp(`maintenance: will turn ON at the edge of '${s.ps.prefix}' for the restore, and off after it`),
    /migrations: will run those of the running API image /,
    /maintenance: turned ON at (.+) \(clients get 503 with Retry-After\)/,
    /safety dump: \/\S+-pre-restore\.dump \(\d+ bytes, sha256 [0-9a-f]{12}…; kept/,
    /restoring into database 'app' in one transaction/,
    /restored in [\d.]+ s/,
    new RegExp(`migrating: node dist/api/migrate\\.js in a one-off task ${s.ps.prefix}-restore-migrate-… of \\S+ on network ${s.ps.prefix}-backend, as slipway_owner`),
    /restore-migrate: completed in/,
    /maintenance: turned OFF/,
    /edge: maintenance turned off again: the edge serves traffic/,
    /removed database client container/,
  ];
  let at = 0;
  for (const step of steps) {
    const i = run.stderr.slice(at).search(step);
    assert.ok(i >= 0, `step ${String(step)} (in order) in:\n${run.stderr}`);
    at += i;
  }
  assert.deepEqual(/maintenance: turned ON at (.+) \(clients get 503/.exec(run.stderr)![1]!.split(", ").sort(), edgeNames, "at every edge task");

  // Clients: only maintenance answers, no error, nothing written twice; maintenance seen at the other edge node too.
  assert.deepEqual(report.errors, {}, "no connection error");
  assert.deepEqual(Object.keys(report.non2xx).filter((code) => code !== "503"), [], `only 503s: ${JSON.stringify(report.non2xx)}`);
  assert.ok((report.non2xx["503"] ?? 0) > 0, "the load met maintenance");
  assert.ok(samples.some((x) => x.maintenance), "maintenance answered at the second edge node");
  assert.deepEqual(samples.filter((x) => x.status !== 200 && !x.maintenance), [], "nothing but 200 or the maintenance answer there");
  assert.equal(rows.rowsTwice, 0);

  // The data: exactly the dump's rows, plus what this load wrote after maintenance went off; the row written after
  // the dump is gone — and kept in the safety dump, beside the backups.
  assert.equal(Number(await s.sql(`select count(*) from items where name not like '${load.idPrefix}-%'`)), inDump, "every row of the dump and no other (but this load's after the restore)");
  assert.equal(await s.sql("select count(*) from items where name = 'written-after-the-dump'"), "0");
  const safety = /the data it replaced is in (\S+-pre-restore\.dump);/.exec(run.stdout)?.[1];
  assert.ok(safety && readdirSync(s.backupDir).includes(`${safety.split("/").pop()!}.sha256`), `the safety dump and its checksum in ${s.backupDir}: ${run.stdout}`);
  assert.equal(await s.sql("select tableowner from pg_tables where tablename = 'items'"), "slipway_owner", "the restored tables belong to the owner role");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.equal(await post(i, `after-restore-${i}`), 201, `the API writes through edge node ${i} again (its grants came back)`);

  // Nothing left on the manager or in the swarm.
  assert.equal((await lab().cli(["ps", "-aq", "--filter", `label=slipway.role=${ROLES.dbClient}`])).trim(), "", "no client container left");
  assert.equal((await lab().cli(["service", "ls", "-q", "--filter", `name=${s.ps.prefix}-restore-migrate`])).trim(), "", "no migration task left");
  assert.equal((await lab().cli(["secret", "ls", "-q", "--filter", `name=${s.ps.prefix}-restore-migrate`])).trim(), "", "no secret of it left");
  assert.equal(await s.previewComplaint(), "", "preview after the restore");
});

test("a broken image: the up fails naming the reason, the old release keeps serving, 0 failed", { skip, timeout: 30 * 60_000 }, async () => {
  const broken = await s.apiImage("broken", { cmd: ["node", "-e", "console.error('slipway test: broken on purpose'); process.exit(3)"] });
  const f = await measure("broken image", async () => {
    await s.setApiImage(broken);
    await up("broken");
  });
  assert.ok(f.error, "the up failed");
  console.log(`broken image: the up failed with: ${f.error.split("\n").filter((l) => /failed|exit|broken/.test(l)).slice(0, 5).map((l) => l.slice(0, 300)).join(" | ")}`);
  assert.match(f.error, /exit code 3|non-zero exit \(3\)/, "the reason: the task's exit code");
  assert.equal(f.failed, 0, "no request failed while the broken release was tried");
  assert.equal(f.rows.rowsTwice, 0);
  assert.equal(f.rows.lost, 0);
  assert.match((await get(`${edgeUrl(0)}/health`)).body, /v2/, "the old release still serves");
  // Back to the serving image: the roles and migrations (which did run with the broken image) run again with it, the
  // serving release stays as it is, and the preview after that up is empty.
  const serving = ((await s.ps.stack.outputs()).apiContainers!.value as string[])[0];
  await s.setApiImage(s.apiImageRef("v2"));
  await up("back to v2");
  assert.equal(((await s.ps.stack.outputs()).apiContainers!.value as string[])[0], serving, "the serving release was not touched");
  assert.equal(await s.previewComplaint(), "", "preview empty after going back to the serving image");
});

test("an API env change under load: a release with it in the other colour, 0 failed, 0 rows twice, preview empty", { skip, timeout: 30 * 60_000 }, async () => {
  const before = (await servingTasks()).service;
  const f = await measure("env change", async () => {
    await s.ps.stack.setConfig("slipway:api.env.FEATURE", { value: "on" }, true);
    await up("env FEATURE=on");
  });
  assertZeroDowntime(f);
  const after = (await servingTasks()).service;
  assert.notEqual(after, before, "the change went out as a new release");
  assert.match(await serviceEnv(after), /"FEATURE=on"/);
});

test("rollback from the stack's history under load: the release before, image and env, 0 failed, preview empty", { skip, timeout: 30 * 60_000 }, async () => {
  let result: RollbackResult | undefined;
  const f = await measure("rollback", async () => {
    result = await rollback(s.ps.stack, { reason: "FEATURE=on misbehaves", log });
  });
  assertZeroDowntime(f);
  assert.equal(result?.to.images.api, s.apiImageRef("v2"), "the release before the env change");
  assert.doesNotMatch(await serviceEnv((await servingTasks()).service), /FEATURE=/, "its env, without FEATURE");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.match((await get(`${edgeUrl(i)}/health`)).body, /v2/, `${lab().edgeNodes[i]!.name} serves v2`);
});

/** The stack's API services, "<id> <name>" sorted. */
const services = async () => (await lab().cli(["service", "ls", "--filter", `label=slipway.stack=${s.ps.prefix}`, "--filter", "label=slipway.resource=api", "--format", "{{.ID}} {{.Name}}"])).trim().split("\n").filter(Boolean).sort();
/** How many of a service's tasks run. */
const running = async (service: string) => (await lab().cli(["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.CurrentState}}"])).trim().split("\n").filter((l) => l.startsWith("Running")).length;
const serving = () => servingTasks().then((t) => t.service);
/** A new image `version` promoted under load: its ref, the up's output and the figures (the caller judges them). */
async function promoteUnderLoad(version: string, step: string) {
  const image = await s.apiImage(version);
  let output = "";
  const f = await measure(step, async () => {
    await s.setApiImage(image);
    output = await up(`promote ${version}`);
  });
  return { image, output, f };
}

test("blue-green on swarm under load: the new service staged idle and switched at every edge task, the old one kept idle as the standby; the rollback a switch back to it (nothing starts); back to rolling removes the standby; 0 failed, 0 rows twice, preview empty after each", { skip, timeout: 30 * 60_000 }, async () => {
  const before = await serving();
  // The strategy alone releases nothing.
  await s.ps.stack.setConfig("slipway:api.rollout.strategy", { value: "blue-green" }, true);
  await s.ps.stack.setConfig("slipway:api.rollout.blueGreen.keepOldMinutes", { value: "15" }, true);
  const on = await up("blue-green on");
  assert.match(on, /no release: revision \w+ stays/);
  assert.equal(await serving(), before, "nothing released");
  assert.equal(await s.previewComplaint(), "", "preview after switching the strategy");

  const { output, f } = await promoteUnderLoad("bg", "blue-green promote");
  assertZeroDowntime(f);
  assert.match(output, /blue-green: release \w+→\w+: 3 replicas of .* staged idle, then switched at every edge task at once, .* kept idle as the standby 15 min/, "the preview line");
  assert.match(output, /UP and idle at every edge task/);
  assert.match(output, /switched at every edge task after/);
  const promoted = await serving();
  assert.notEqual(promoted, before);
  const standby = (await s.ps.stack.outputs()).apiStandby!.value as { revision: string; containers: string[]; until: string };
  assert.deepEqual(standby.containers, [before], "the old service is the standby");
  assert.ok(Date.parse(standby.until) > Date.now() + 10 * 60_000, `kept ~15 min: until ${standby.until}`);
  assert.equal(await running(before), 3, "the standby's tasks keep running");
  const report = JSON.parse((await status({ json: true })).stdout) as { standby?: { revision: string; until: string }; replicas: { edge: string }[] };
  assert.equal(report.standby?.until, standby.until, "status shows the standby and until when");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.match((await get(`${edgeUrl(i)}/health`)).body, /bg/, `${lab().edgeNodes[i]!.name} serves bg only`);
  assert.equal(await s.previewComplaint(), "", "preview after the blue-green promote");

  // A new edge task (its container gone, Swarm starts another) starts with every slot ready: the standby takes traffic
  // there, and status says so, naming the node (the rollback's switch below makes it idle there again).
  const node = lab().edgeNodes[1]!;
  const [container] = (await lab().cli(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${s.ps.prefix}-edge`], node.index)).trim().split("\n");
  await lab().cli(["rm", "-f", container!], node.index);
  await waitFor(`a new edge task serving through ${node.name}`, 180_000, async () => ((await get(`${edgeUrl(1)}/health`).catch(() => ({ status: 0 }))).status === 200 ? true : undefined));
  const named = await waitFor("status to see the standby taking traffic", 120_000, async () => {
    const r = status({ json: true });
    const problems = r.status === 1 ? (JSON.parse(r.stdout) as { problems: string[] }).problems : [];
    return problems.find((p) => p.includes("takes traffic at the edge"));
  });
  assert.match(named.value, new RegExp(`blue-green standby ${before} takes traffic at the edge on ${node.name}\\b`));

  // The rollback goes to the release before — the standby's revision: a switch, no service created.
  const ids = await services();
  let result: RollbackResult | undefined;
  let switchS = 0;
  const g = await measure("blue-green rollback (switch back)", async () => {
    const t0 = Date.now();
    result = await rollback(s.ps.stack, { reason: "bg misbehaves", log });
    switchS = (Date.now() - t0) / 1000;
  });
  assertZeroDowntime(g);
  console.log(`blue-green rollback: a switch back in ${switchS.toFixed(1)} s (rollback verb, pulumi up included)`);
  assert.equal(result?.to.images.api, s.apiImageRef("v2"));
  assert.equal(await serving(), before, "the standby serves again");
  assert.deepEqual(await services(), ids, "the same two services: nothing started or removed");
  assert.deepEqual(((await s.ps.stack.outputs()).apiStandby!.value as { containers: string[] }).containers, [promoted], "bg is now the standby");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.match((await get(`${edgeUrl(i)}/health`)).body, /v2/, `${lab().edgeNodes[i]!.name} serves v2`);
  assert.equal(await s.previewComplaint(), "", "preview after the switch back");
  const after = JSON.parse(status({ json: true }).stdout) as { problems: string[] };
  assert.ok(!after.problems.some((p) => p.includes("takes traffic")), `the new standby idle at every edge task: ${after.problems.join("; ")}`);

  // Back to rolling: the standby goes.
  await s.ps.stack.removeConfig("slipway:api.rollout.blueGreen", true);
  await s.ps.stack.removeConfig("slipway:api.rollout.strategy", true);
  const off = await up("rolling again");
  assert.match(off, /remove the standby .* \(blue-green is off\)/);
  assert.deepEqual((await services()).map((l) => l.split(" ")[1]), [before], "only the serving service");
  assert.equal((await s.ps.stack.outputs()).apiStandby!.value, null);
  assert.equal(await s.previewComplaint(), "", "preview after back to rolling");
});

test("canary on swarm under load: a good image's first task takes each share at every edge task, judged on the edge's access log, then all 3 replicas and the old service removed — 0 failed, preview empty; a faulty one fails the first gate, is drained and removed, the up fails quoting the figures, the serving release untouched", { skip, timeout: 30 * 60_000 }, async () => {
  await s.ps.stack.setConfig("slipway:api.rollout.strategy", { value: "canary" }, true);
  await s.ps.stack.setConfig("slipway:api.rollout.canary.steps[0]", { value: "25" }, true);
  await s.ps.stack.setConfig("slipway:api.rollout.canary.steps[1]", { value: "50" }, true);
  await s.ps.stack.setConfig("slipway:api.rollout.canary.stepSeconds", { value: String(CANARY_STEP_SECONDS) }, true);
  assert.match(await up("canary on"), /no release: revision \w+ stays/, "the strategy alone releases nothing");
  assert.equal(await s.previewComplaint(), "", "preview after switching the strategy");
  const before = await serving();

  // A good image: its one canary task at 25 %, then 50 %, each judged and passed; then 3 replicas, the old one removed.
  const { output, f, image: good } = await promoteUnderLoad("cn", "canary promote");
  assertZeroDowntime(f);
  assert.match(output, /canary: release \w+→\w+: 1 canary task of .* at 25 → 50 % of requests, each judged on the edge's access log, then 3 replicas, then .* removed/, "the preview line");
  const passed = [...new Set(output.match(/canary gate passed at \d+ %[^\n]*/g) ?? [])];
  console.log(passed.join("\n"));
  assert.equal(passed.length, 2, "both shares judged and passed");
  assert.match(passed[0]!, /at 25 %: canary [1-9]\d* requests/, "the canary had requests of its own at 25 %");
  assert.match(output, /canary passed after .*; scaling to 3 replicas/);
  const promoted = await serving();
  assert.notEqual(promoted, before);
  assert.deepEqual((await services()).map((l) => l.split(" ")[1]), [promoted], "only the new service: the old one removed");
  assert.equal(await running(promoted), 3);
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.match((await get(`${edgeUrl(i)}/health`)).body, /cn/, `${lab().edgeNodes[i]!.name} serves cn`);
  assert.equal(await s.previewComplaint(), "", "preview after the canary promote");

  // A faulty image (500 on half of its requests): the first gate fails; the canary takes no more requests and goes.
  const faulty = await s.apiImage("faulty", { preload: FAULT_HALF_OF_REQUESTS });
  let failedOutput = "";
  const g = await measure("canary: an image failing 50 % of its requests", async () => {
    await s.setApiImage(faulty);
    try {
      await s.ps.stack.up({ message: "promote faulty, canary", color: "never", onOutput: (o) => { failedOutput += o; log(o); } });
    } finally {
      await s.setApiImage(good);
    }
  });
  assert.ok(g.error, "the up failed");
  assert.match(failedOutput, /error: release of \S+faulty to \S+ failed: canary gate failed at 25 %: canary \d+ requests, \d+ × 5xx \(\d+\.\d %\)/, "pulumi up fails quoting the figures");
  console.log(`canary on swarm: users saw ${g.failed} failed requests of ${g.requests} (${JSON.stringify(g.non2xx)}) while the faulty canary held 25 % for ${CANARY_STEP_SECONDS} s`);
  assert.deepEqual(Object.keys(g.non2xx).filter((k) => k !== "500"), [], "only the canary's injected 500s, no 502/503");
  assert.deepEqual(g.errors, {}, "no connection error");
  assert.equal(g.rows.rowsTwice, 0);
  assert.equal(await serving(), promoted, "the serving release untouched");
  assert.deepEqual((await services()).map((l) => l.split(" ")[1]), [promoted], "the canary's service removed");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.match((await get(`${edgeUrl(i)}/health`)).body, /cn/, `${lab().edgeNodes[i]!.name} serves cn`);
  // Back to the serving image (the roles and migrations ran with the faulty one): nothing released, preview empty.
  await up("back to cn");
  assert.equal(await s.previewComplaint(), "", "preview after going back to the serving image");

  // Back to rolling for the tests after this one: nothing released.
  await s.ps.stack.removeConfig("slipway:api.rollout.canary", true);
  await s.ps.stack.removeConfig("slipway:api.rollout.strategy", true);
  await up("rolling again");
  assert.equal(await serving(), promoted);
  assert.equal(await s.previewComplaint(), "", "preview after back to rolling");
});

test("a service an interrupted run left in the other colour, taking traffic at every edge task: the next up that releases nothing drains and removes it under load — 0 failed, 0 rows twice, preview empty", { skip, timeout: 30 * 60_000 }, async () => {
  // What a killed `pulumi up` leaves between creating the new colour's service and removing the old one: both serving.
  const docker = connectDocker(lab().dockerHost);
  const servingName = await serving();
  const other = servingName.endsWith("-api-a") ? servingName.replace(/-api-a$/, "-api-b") : servingName.replace(/-api-b$/, "-api-a");
  const spec = ((await docker.getService(servingName).inspect()) as { Spec: { Name: string; Labels: Record<string, string>; TaskTemplate: { ContainerSpec: { Labels?: Record<string, string>; Env?: string[] } }; Mode: object } }).Spec;
  const labels = { ...spec.Labels, "slipway.revision": "interrupted00000" };
  const env = [...(spec.TaskTemplate.ContainerSpec.Env ?? []), "APP_VERSION=leftover"];
  await docker.createService({ ...spec, Name: other, Labels: labels, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Labels: labels, Env: env } }, Mode: { Replicated: { Replicas: 1 } } } as never);
  await waitFor(`${other}'s task running`, 180_000, async () => ((await running(other)) === 1 ? true : undefined));
  await waitFor(`${other} answering through the edge`, 120_000, async () => ((await get(`${edgeUrl(0)}/health`)).body.includes("leftover") ? true : undefined));
  const preview = await s.ps.stack.preview({ color: "never" });
  assert.match(preview.stdout, new RegExp(`\\[release\\] drain and remove ${other} \\(left by an interrupted run\\)`), "the preview names the work left");
  let output = "";
  const f = await measure("tidy a leftover service", async () => {
    output = await up("nothing to release; a leftover in the other colour");
  });
  assertZeroDowntime(f);
  assert.match(output, new RegExp(`${other}: left by an interrupted run \\(revision interrup\\); draining and removing it`));
  assert.deepEqual((await services()).map((l) => l.split(" ")[1]), [servingName], "only the serving service");
  assert.equal(await serving(), servingName, "the serving release untouched");
  for (let i = 0; i < 20; i++) assert.doesNotMatch((await get(`${edgeUrl(0)}/health`)).body, /leftover/, "no request reaches it any more");
  assert.equal(await s.previewComplaint(), "", "preview after the tidy");
});

test("edge config and image changes under load: the up succeeds, every edge node answers with them, the config before kept for Swarm, the one before that removed, 0 rows twice, preview empty", { skip, timeout: 30 * 60_000 }, async () => {
  const configs = async () => (await lab().cli(["config", "ls", "--filter", `label=slipway.stack=${s.ps.prefix}`, "--format", "{{.Name}}"])).trim().split("\n").filter(Boolean).sort();
  const corsAt = async (i: number, origin: string) => (await fetch(`${edgeUrl(i)}/health`, { headers: { origin } })).headers.get("access-control-allow-origin");
  const [first, ...more] = await configs();
  assert.ok(first && more.length === 0, `one edge config after the first up: ${[first, ...more].join(", ")}`);
  const origin = "https://app.example";
  let output = "";
  const f = await measure("edge config change", async () => {
    await s.ps.stack.setConfig("slipway:edge.cors.allowedOrigins[0]", { value: origin }, true);
    output = await up("edge: CORS for app.example");
  });
  // The edge's tasks are not replaced: each fetches the new config from the config server and reloads in place.
  assertZeroDowntime(f);
  assert.match(output, /\[edge\] config [0-9a-f]{12} loaded at 2 edge tasks/, "the up waited for every edge task to load it");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.equal(await corsAt(i, origin), origin, `${lab().edgeNodes[i]!.name} answers with the new config`);
  const second = await configs();
  assert.equal(second.length, 2, `the new config and the one before it: ${second.join(", ")}`);
  assert.ok(second.includes(first), "the config before is kept while the config server's previous spec names it");

  // An edge image change with another config in the same up: every edge task runs the new image (the relay the release
  // uses too), and the first config, named by no spec now, goes.
  const other = "https://admin.example";
  const edgeImage = await s.edgeImage("e2");
  const g = await measure("edge image and config change", async () => {
    await s.ps.stack.setConfig("slipway:edge.cors.allowedOrigins[0]", { value: other }, true);
    await s.setEdgeImage(edgeImage);
    await up("edge: new image, CORS for admin.example");
  });
  // An image change replaces the edge's tasks, stop-first one node at a time (a task holds its node's port): requests
  // through the node being replaced fail meanwhile (README "Target swarm"); counted here, none written twice.
  console.log(`edge image and config change: ${g.failed} requests failed through ${lab().edgeNodes[0]!.name} while its task was replaced; ${g.rows.postsOk} rows written, 0 twice`);
  assert.equal(g.error, undefined, "the up succeeded");
  assert.equal(g.rows.rowsTwice, 0, "no row written twice");
  assert.equal(g.rows.lost, 0, "no 2xx without its row");
  const images = (await lab().cli(["service", "ps", `${s.ps.prefix}-edge`, "--filter", "desired-state=running", "--format", "{{.Image}}"])).trim().split("\n").map((i) => i.replace(/@sha256:\w+$/, ""));
  assert.deepEqual(images, lab().edgeNodes.map(() => edgeImage), "every edge task runs the new image");
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.equal(await corsAt(i, other), other, `${lab().edgeNodes[i]!.name} answers with the second change`);
  const third = await configs();
  console.log(`edge configs: ${first} → ${second.join(", ")} → ${third.join(", ")}`);
  assert.equal(third.length, 2, `the serving config and the one before: ${third.join(", ")}`);
  assert.ok(!third.includes(first), "the first config was removed");
  assert.equal(await s.previewComplaint(), "", "preview empty after the second change");
});

test("maintenance on a swarm: `npm run maintenance` sets every edge node's 503 with the message; an edge config change keeps it; a new edge task starts without it and status names the split; off: every edge node serves again", { skip, timeout: 30 * 60_000 }, async () => {
  const verb = async (...args: string[]) => {
    const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", "src/cli/maintenance.ts", "--stack", s.ps.stackName, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...engineEnv(s.ps.backendDir), SLIPWAY_PROJECT_DIR: s.ps.workDir },
      timeout: 300_000,
    });
    return stdout.trim();
  };
  const message = "Back at noon; sorry";
  const answers = async () => Promise.all(lab().edgeNodes.map(async (_n, i) => {
    const res = await fetch(`${edgeUrl(i)}/health`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.text() };
  }));
  const edgeNames = lab().edgeNodes.map((n) => n.name).sort();
  const said = await verb("on", "--message", message);
  assert.match(said, new RegExp(`^maintenance ON for ${s.ps.stackName} \\((.+)\\)$`));
  assert.deepEqual(/\((.+)\)$/.exec(said)![1]!.split(", ").sort(), edgeNames, "set at every edge task, each named by its node");
  for (const a of await answers()) {
    assert.equal(a.status, 503);
    assert.equal(a.retryAfter, "60");
    assert.deepEqual(JSON.parse(a.body), { error: "maintenance", message });
  }
  const on = JSON.parse(status({ json: true }).stdout) as { maintenance?: string; problems: string[] };
  assert.equal(on.maintenance, message, "status reads it from the edge tasks");
  assert.ok(!on.problems.some((p) => /maintenance/.test(p)), on.problems.join("; "));

  // A config change: each edge task reloads in place and writes the entry back first — still on everywhere.
  await s.ps.stack.setConfig("slipway:edge.cors.allowedOrigins[0]", { value: "https://maint.example" }, true);
  await up("edge: a config change during maintenance");
  for (const a of await answers()) assert.equal(a.status, 503, "maintenance kept across the reload");

  // A new edge task (its container gone, Swarm starts another): it starts with maintenance off; status names the split.
  const node = lab().edgeNodes[1]!;
  const [container] = (await lab().cli(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${s.ps.prefix}-edge`], node.index)).trim().split("\n");
  assert.ok(container, `an edge task on ${node.name}`);
  await lab().cli(["rm", "-f", container], node.index);
  await waitFor(`a new edge task serving through ${node.name}`, 180_000, async () => ((await get(`${edgeUrl(1)}/health`).catch(() => ({ status: 0 }))).status === 200 ? true : undefined));
  const split = await waitFor("status to see the split", 120_000, async () => {
    const r = status({ json: true });
    const report = r.status === 1 ? (JSON.parse(r.stdout) as { problems: string[] }) : undefined;
    return report?.problems.some((p) => p.startsWith("maintenance differs")) ? report : undefined;
  });
  console.log(`status after a new edge task: ${split.value.problems.join("; ")}`);
  assert.ok(split.value.problems.some((p) => p.includes(`off at ${node.name}`) && p.includes(`ON at ${lab().edgeNodes[0]!.name} ("${message}")`)), split.value.problems.join("; "));

  assert.match(await verb("off"), new RegExp(`^maintenance off for ${s.ps.stackName} \\(`));
  for (const a of await answers()) assert.equal(a.status, 200, "serving again at every edge node");
  const off = JSON.parse(status({ json: true }).stdout) as { maintenance?: string; problems: string[] };
  assert.equal(off.maintenance, undefined);
  assert.equal(await s.previewComplaint(), "", "preview empty: maintenance is no stack change");
});

test("a worker drained under load: 0 failed, 0 rows twice; back to active, every edge node answers", { skip, timeout: 30 * 60_000 }, async () => {
  const victim = lab().nodes[2]!; // an edge node, not the one the load goes through, not the database's
  assert.notEqual(victim.name, lab().databaseNode.name);
  assert.equal(lab().edgeNodes[0]!.name === victim.name, false);
  await s.ensureTaskOn(victim.name);
  console.log(`before the drain: ${(await servingTasks()).rows.join(", ")}`);
  const f = await measure("drain a worker", async () => {
    await lab().cli(["node", "update", "--availability", "drain", victim.name]);
    await waitFor(`no API task on ${victim.name}`, 300_000, async () => {
      const serving = ((await s.ps.stack.outputs()).apiContainers!.value as string[])[0]!;
      const rows = (await lab().cli(["service", "ps", serving, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"]).catch(() => "")).trim().split("\n").filter(Boolean);
      return rows.length === 3 && rows.every((r) => !r.startsWith(`${victim.name} `) && / Running /.test(` ${r} `)) ? true : undefined;
    });
  });
  assertZeroDowntime(f, { previewEmpty: true });
  await lab().cli(["node", "update", "--availability", "active", victim.name]);
  for (let i = 0; i < lab().edgeNodes.length; i++) {
    await waitFor(`GET /health through ${lab().edgeNodes[i]!.name}`, 180_000, async () => ((await get(`${edgeUrl(i)}/health`)).status === 200 ? true : undefined));
  }
});

test(`a node killed under load — the manager dockerHost names among it: only in-flight requests fail, 0 rows twice, 3 tasks on the survivors within ${KILL_BOUND_MS} ms`, { skip, timeout: 30 * 60_000 }, async () => {
  const victim = lab().nodes[2]!;
  // The stack reaches the swarm through the victim's manager from here on: pointing dockerHost at another manager of the
  // same swarm releases nothing and runs no task (RUNBOOK "A node is lost").
  await s.ps.stack.setConfig("slipway:dockerHost", { value: victim.dockerHost });
  const moved = await s.ps.stack.up({ message: `dockerHost → ${victim.name}`, onOutput: log, color: "never" });
  const changes: Record<string, number> = { ...moved.summary.resourceChanges };
  console.log(`dockerHost → ${victim.name}: ${JSON.stringify(changes)}`);
  for (const kind of ["create", "delete", "replace", "create-replacement", "delete-replaced"]) assert.equal(changes[kind] ?? 0, 0, `${kind}: the same swarm through another manager replaces nothing`);
  assert.match(moved.stdout, /\[release\] through .*: nothing is released/);
  assert.doesNotMatch(moved.stdout, /creating revision|one-off task/i, "no release, no task run");
  assert.equal(await s.previewComplaint(), "", "preview empty after repointing");

  await s.ensureTaskOn(victim.name);
  const serving = (await servingTasks()).service;
  console.log(`before the kill: ${(await servingTasks()).rows.join(", ")}`);
  let replacedMs = 0;
  const f = await measure("kill a node", async () => {
    victimKilled = true;
    await lab().kill(victim.index);
    const killed = Date.now();
    await waitFor(`3 API tasks running off ${victim.name}`, KILL_BOUND_MS, async () => {
      const rows = (await lab().cli(["service", "ps", serving, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"])).trim().split("\n").filter(Boolean);
      return rows.length === 3 && rows.every((r) => !r.startsWith(`${victim.name} `) && / Running /.test(` ${r} `)) ? true : undefined;
    });
    replacedMs = Date.now() - killed;
    // Requests in flight on the dead node's tasks end by the edge's server timeout before the load stops.
    await new Promise((r) => setTimeout(r, s.serverTimeoutMs + 5000));
  });
  console.log(`kill ${victim.name}: ${f.failed} requests failed (in flight on it: at most one per connection, ${CONNECTIONS}), 3 API tasks running on the survivors ${(replacedMs / 1000).toFixed(1)} s after the kill`);
  assert.equal(f.rows.rowsTwice, 0, "no row written twice");
  assert.equal(f.rows.lost, 0, "no 2xx without its row");
  assert.ok(f.failed <= CONNECTIONS, `only requests in flight failed: ${f.failed} > ${CONNECTIONS} connections`);
});

test("the manager dockerHost names is gone: the up says which; pointed at another manager, a promote under load: 0 failed; the node started, it rejoins", { skip, timeout: 30 * 60_000 }, async () => {
  const victim = lab().nodes[2]!;
  assert.ok(victimKilled, "the node was killed by the test before");
  const v3 = await s.apiImage("v3");
  await s.setApiImage(v3);
  const refused = await up("promote v3 through the dead manager").then(() => "", (e: Error) => e.message);
  console.log(`through the dead manager: ${refused.split("\n").filter((l) => /error|connect|docker/i.test(l)).slice(0, 3).map((l) => l.slice(0, 300)).join(" | ")}`);
  assert.ok(refused, "an up through a dead manager fails");
  assert.ok(refused.includes(victim.dockerHost.replace(/^unix:\/\//, "")), `the error names the manager it tried (${victim.dockerHost})`);

  // RUNBOOK: point dockerHost at another manager and deploy again.
  const other = lab().nodes[0]!;
  const f = await measure("promote through another manager", async () => {
    await s.ps.stack.setConfig("slipway:dockerHost", { value: other.dockerHost });
    await up("promote v3 through another manager");
  });
  assertZeroDowntime(f);
  for (const node of lab().edgeNodes.filter((n) => n.name !== victim.name)) assert.match((await get(`http://${node.address}:${s.port}/health`)).body, /v3/, `${node.name} serves v3`);

  await lab().start(victim.index);
  victimKilled = false;
  const ready = await waitFor(`${victim.name} Ready again`, 300_000, async () => {
    const rows = (await lab().cli(["node", "ls", "--format", "{{.Hostname}} {{.Status}}"])).trim().split("\n");
    return rows.includes(`${victim.name} Ready`) ? true : undefined;
  });
  console.log(`${victim.name} started: Ready after ${(ready.ms / 1000).toFixed(1)} s`);
  await lab().loadImages([v3]); // made while it was down (the lab has no registry)
  for (let i = 0; i < lab().edgeNodes.length; i++) {
    await waitFor(`GET /health through ${lab().edgeNodes[i]!.name}`, 300_000, async () => ((await get(`${edgeUrl(i)}/health`)).status === 200 ? true : undefined));
  }
  assert.match((await get(`${edgeUrl(1)}/health`)).body, /v3/, "the rejoined edge node serves the release made while it was down");
  assert.equal(await s.previewComplaint(), "", "preview empty once the node is back (nothing to deploy)");
});

test("the database's node killed under load: only what needs the database fails while it is down; started again, PostgreSQL comes back on its volume with every acknowledged row and writes resume, no deploy", { skip, timeout: 30 * 60_000 }, async () => {
  const dbNode = lab().databaseNode;
  // dockerHost must name a manager that stays up (the database's node is one of the three).
  const other = lab().nodes.find((n) => n.index !== dbNode.index)!;
  await s.ps.stack.setConfig("slipway:dockerHost", { value: other.dockerHost });
  await up(`dockerHost → ${other.name}`);
  await s.ensureTaskOn(dbNode.name);
  let backAfterMs = 0;
  let downForMs = 0;
  const f = await measure("kill the database's node", async () => {
    dbNodeKilled = true;
    await lab().kill(dbNode.index);
    const killed = Date.now();
    await new Promise((r) => setTimeout(r, DB_NODE_DOWN_MS));
    await lab().start(dbNode.index);
    dbNodeKilled = false;
    const started = Date.now();
    await waitFor("a write answered 201 through the edge again", DB_NODE_BACK_BOUND_MS, async () => {
      const r = await fetch(`${edgeUrl(0)}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `probe-${Date.now()}` }) }).catch(() => undefined);
      return r?.status === 201 ? true : undefined;
    });
    backAfterMs = Date.now() - started;
    downForMs = Date.now() - killed;
    await new Promise((r) => setTimeout(r, s.serverTimeoutMs + 5000));
  });
  const slow = f.byRoute.slow ?? {};
  const slowFailed = Object.entries(slow).filter(([code]) => code !== "200").reduce((n, [, c]) => n + c, 0);
  console.log(
    `database node ${dbNode.name} killed for ${(DB_NODE_DOWN_MS / 1000).toFixed(0)} s: writes answered again ${(backAfterMs / 1000).toFixed(1)} s after it started ` +
      `(${(downForMs / 1000).toFixed(1)} s without the database); ${f.failed} of ${f.requests} requests failed — by route ${JSON.stringify(f.byRoute)}, errors ${JSON.stringify(f.errors)}`,
  );
  assert.equal(f.rows.rowsTwice, 0, "no row written twice");
  assert.equal(f.rows.lost, 0, "every acknowledged row is on the database's volume after the node's loss");
  assert.ok(slowFailed <= CONNECTIONS, `requests that need no database only failed in flight on the killed node's API task: ${slowFailed} > ${CONNECTIONS}`);
  assert.ok((f.byRoute.items?.["503"] ?? 0) > 0, "writes answered 503 while the database was gone (not hanging)");
  assert.equal(await s.previewComplaint(), "", "preview empty: the node's return needed no deploy");
  // Back to the manager the tests before used (it runs no edge task: see RUNBOOK "Swarm", pulumi destroy).
  await s.ps.stack.setConfig("slipway:dockerHost", { value: dbNode.dockerHost });
  await up(`dockerHost → ${dbNode.name}`);
});

test("the database's node lost for good, under load: maintenance on, the label moved to another node, the roles run again (`pulumi up --replace` of the roles task), `npm run restore` of the last dump — its rows exactly, no request meets the empty database, writes answered again after maintenance off, what was written after the dump lost and counted, the time measured", { skip, timeout: 40 * 60_000 }, async (t) => {
  const dbNode = lab().databaseNode;
  // The new database node, and the manager dockerHost names meanwhile (the lost node is one of the managers).
  const target = lab().nodes.find((n) => n.index !== dbNode.index)!;
  const cli = (args: string[]) => lab().cli(args, target.index);
  await s.ps.stack.setConfig("slipway:dockerHost", { value: target.dockerHost });
  await up(`dockerHost → ${target.name}`);
  // However it ends, the tests after it get the lab as before: the node started again, dockerHost back on it.
  t.after(async () => {
    if (dbNodeKilled) {
      await lab().start(dbNode.index).catch(() => undefined);
      dbNodeKilled = false;
      await waitFor(`${dbNode.name} Ready again`, 300_000, async () => ((await cli(["node", "ls", "--format", "{{.Hostname}} {{.Status}}"])).trim().split("\n").includes(`${dbNode.name} Ready`) ? true : undefined)).catch(() => undefined);
    }
    if ((await s.ps.stack.getConfig("slipway:dockerHost")).value !== dbNode.dockerHost) {
      await s.ps.stack.setConfig("slipway:dockerHost", { value: dbNode.dockerHost });
      await up(`dockerHost → ${dbNode.name}`).catch((e: Error) => log(`dockerHost back to ${dbNode.name}: ${e.message}\n`));
    }
  });
  const verbEnv = { ...process.env, ...engineEnv(s.ps.backendDir), SLIPWAY_PROJECT_DIR: s.ps.workDir };
  // The last dump before the loss (what the daily backup would have left), verified.
  const taken = await execFileAsync(process.execPath, backupVerb({ stack: s.ps.stackName, imageTag: "last" }).slice(1), { cwd: repoRoot, env: verbEnv, timeout: 600_000 });
  const dump = taken.stdout.trim();
  const inDump = (JSON.parse(readFileSync(`${dump}.verified.json`, "utf8")) as { sourceCounts: Record<string, number> }).sourceCounts["public.items"]!;

  // Two loads through edge node 0: one across the loss until maintenance is on (requests in flight on the killed node
  // may fail there), one from then to the end — which must never meet the empty database.
  const shape = { url: edgeUrl(0), allowHost: lab().edgeNodes[0]!.address, connections: 10, maxSeconds: 1800, mix: "items" as const, postShare: 0.5, slowShare: 0, fastMs: 50 };
  const atLoss = startLoad(shape);
  t.after(() => atLoss.stop());
  await new Promise((r) => setTimeout(r, 5000));
  const lostAt = Date.now();
  dbNodeKilled = true;
  await lab().kill(dbNode.index);
  const since = () => ((Date.now() - lostAt) / 1000).toFixed(1);
  const timeline: string[] = [`${dbNode.name} killed`];

  // RUNBOOK "The database's node is gone for good": maintenance on first (until the data is back clients get 503 +
  // Retry-After, not the errors of an empty database), then label another node; Swarm starts PostgreSQL there on a new volume.
  const maintenance = (state: "on" | "off") => execFileAsync(process.execPath, ["--import", "tsx", "src/cli/maintenance.ts", "--stack", s.ps.stackName, state], { cwd: repoRoot, env: verbEnv, timeout: 300_000 });
  await maintenance("on");
  timeline.push(`${since()} s: maintenance on`);
  const lossReport = await atLoss.stop();
  const load = startLoad(shape);
  t.after(() => load.stop());
  dbLabelMovedTo = target.name;
  await cli(["node", "update", "--label-rm", "slipway.database", dbNode.name]);
  await cli(["node", "update", "--label-add", "slipway.database=true", target.name]);
  await waitFor(`the database task running on ${target.name}`, 600_000, async () => {
    const rows = (await cli(["service", "ps", `${s.ps.prefix}-db`, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"])).trim().split("\n");
    return rows.some((r) => r.startsWith(`${target.name} Running`)) ? true : undefined;
  });
  timeline.push(`${since()} s: PostgreSQL running on ${target.name} (empty)`);
  // A new cluster has neither role: the roles task again (idempotent), as `pulumi up --replace <its URN>`.
  const roles = ((await s.ps.stack.exportStack()).deployment as { resources: { urn: string }[] }).resources.find((r) => r.urn.endsWith("::db-roles"))!.urn;
  const replaced = await s.ps.stack.up({ replace: [roles], message: "the database's node lost: roles on the new cluster", onOutput: log, color: "never" });
  assert.equal(replaced.summary.result, "succeeded");
  assert.deepEqual(Object.keys(replaced.summary.resourceChanges ?? {}).filter((k) => k !== "same").sort(), ["replace"], `only the roles task replaced: ${JSON.stringify(replaced.summary.resourceChanges)}`);
  timeline.push(`${since()} s: roles in place`);
  const restored = await execFileAsync(process.execPath, ["--import", "tsx", "src/cli/restore.ts", "--stack", s.ps.stackName, "--file", dump, "--yes"], { cwd: repoRoot, env: verbEnv, timeout: 900_000 })
    .then((r) => ({ code: 0, ...r }), (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }));
  timeline.push(`${since()} s: restored`);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stderr, new RegExp(`maintenance: already ON at the edge of '${s.ps.prefix}' .*; restore leaves it on`));
  assert.match(restored.stderr, /migrations: done/);
  await maintenance("off");
  await waitFor("a write answered 201 through the edge", 300_000, async () => ((await fetch(`${edgeUrl(0)}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `lost-probe-${Date.now()}` }) }).catch(() => undefined))?.status === 201 ? true : undefined));
  const backS = (Date.now() - lostAt) / 1000;
  timeline.push(`${backS.toFixed(1)} s: maintenance off, writes answered again`);
  await new Promise((r) => setTimeout(r, 5000));
  const report = await load.stop();
  const rows = await countRows(report, load.idPrefix, (q) => s.sql(q));
  const lossRows = await countRows(lossReport, atLoss.idPrefix, (q) => s.sql(q));
  console.log(
    `database node lost for good: ${timeline.join("; ")}. Load through ${lab().edgeNodes[0]!.name} until maintenance was on: ${lossReport.requests} requests, non-2xx ${JSON.stringify(lossReport.non2xx)}, ` +
      `errors ${JSON.stringify(lossReport.errors)}, ${lossRows.postsOk} writes acknowledged, ${lossRows.lost} of them (after the dump) lost; from then on: ${report.requests} requests, non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}\n${restored.stderr}`,
  );

  // The data is the last dump's, and the API writes again; nothing twice.
  assert.equal(await s.sql("select pg_is_in_recovery()"), "f");
  assert.equal(Number(await s.sql(`select count(*) from items where name not like '${load.idPrefix}-%' and name not like '${atLoss.idPrefix}-%' and name not like 'lost-probe-%'`)), inDump, "every row of the last dump, and none of what was lost");
  assert.equal(rows.rowsTwice + lossRows.rowsTwice, 0);
  assert.equal(lossRows.lost, lossRows.postsOk, "every write acknowledged after the dump is lost (as the dump's age says)");
  assert.deepEqual(Object.keys(report.non2xx).filter((code) => code !== "503"), [], `from maintenance on, only 503s: no request met the empty database (${JSON.stringify(report.non2xx)})`);
  assert.deepEqual(report.errors, {});
  for (let i = 0; i < lab().edgeNodes.length; i++) assert.equal((await fetch(`${edgeUrl(i)}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `after-loss-${i}` }) })).status, 201);
  assert.equal(await s.previewComplaint(), "", "preview empty on the new node");

  // The old node back (it holds the old volume; the database stays where the label is), dockerHost back to it.
  await lab().start(dbNode.index);
  dbNodeKilled = false;
  await waitFor(`${dbNode.name} Ready again`, 300_000, async () => ((await cli(["node", "ls", "--format", "{{.Hostname}} {{.Status}}"])).trim().split("\n").includes(`${dbNode.name} Ready`) ? true : undefined));
  assert.match(await cli(["service", "ps", `${s.ps.prefix}-db`, "--filter", "desired-state=running", "--format", "{{.Node}}"]), new RegExp(`^${target.name}$`, "m"), "the database stays on the labelled node");
  await s.ps.stack.setConfig("slipway:dockerHost", { value: dbNode.dockerHost });
  await up(`dockerHost → ${dbNode.name}`);
});

test("HTTPS on swarm: the certificate a Swarm secret served to every edge task, HTTP redirected; a renewal under HTTPS load through an edge node: 0 failed, the new certificate at every edge node, preview empty", { skip, timeout: 30 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-swarm-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const addresses = lab().edgeNodes.map((n) => n.address);
  const first = certificate(dir, "first", addresses);
  const second = certificate(dir, "second", addresses);
  const httpsPort = await freePort();
  const setCertificate = async (c: { cert: string; key: string }) => {
    await s.ps.stack.setConfig("slipway:tlsCertificate", { value: c.cert, secret: true });
    await s.ps.stack.setConfig("slipway:tlsKey", { value: c.key, secret: true });
  };
  const serial = (hex: string) => hex.toUpperCase().replace(/^0+/, "");
  const serialOf = (pem: string) => serial(new X509Certificate(pem).serialNumber);
  await setCertificate(first);
  await s.ps.stack.setConfig("slipway:edge.tls.enabled", { value: "true" }, true);
  await s.ps.stack.setConfig("slipway:edge.tls.port", { value: String(httpsPort) }, true);
  await up("HTTPS on"); // a new published port: the edge's tasks are replaced, node by node
  for (const a of addresses) {
    const r = await waitFor(`HTTPS through ${a}`, 120_000, async () => httpsGet(`https://${a}:${httpsPort}/health`, first.cert).catch(() => undefined));
    assert.equal(r.value.status, 200, `${a}: /health over HTTPS`);
    assert.equal(serial(r.value.serial), serialOf(first.cert), `${a} presents the certificate`);
    const plain = await fetch(`http://${a}:${s.port}/health`, { redirect: "manual" });
    assert.equal(plain.status, 308, `${a}: plain HTTP redirected`);
    assert.equal(plain.headers.get("location"), `https://${a}:${httpsPort}/health`);
  }
  const state = await pulumiCli(s.ps, ["stack", "export"]);
  assert.ok(!state.includes("PRIVATE KEY"), "the key is not in the state in plain text");

  // Renewal: a new Swarm secret, the config server replaced; every edge task reloads in place.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the load client accepts both test certificates
  t.after(() => delete process.env.NODE_TLS_REJECT_UNAUTHORIZED);
  let output = "";
  const f = await measure("certificate renewal", async () => {
    await setCertificate(second);
    output = await up("renew the certificate");
  }, 0, `https://${addresses[0]}:${httpsPort}`);
  assertZeroDowntime(f);
  assert.match(output, /\[edge\] config [0-9a-f]{12} loaded at 2 edge tasks/, "the up waited for every edge task to load it");
  for (const a of addresses) assert.equal(serial((await httpsGet(`https://${a}:${httpsPort}/health`, second.cert)).serial), serialOf(second.cert), `${a} presents the renewed certificate`);
  const secrets = (await lab().cli(["secret", "ls", "--filter", `label=slipway.stack=${s.ps.prefix}`, "--filter", "label=slipway.role=edge-tls", "--format", "{{.Name}}"])).trim().split("\n").filter(Boolean);
  assert.equal(secrets.length, 2, `the serving certificate's secret and the one before: ${secrets.join(", ")}`);
  const inspected = await lab().cli(["service", "inspect", `${s.ps.prefix}-edge`, `${s.ps.prefix}-edge-config`]);
  assert.ok(!inspected.includes("PRIVATE KEY"), "no key in any service's spec");
});
