// `npm run status`: the decision (report → healthy or the problems, each naming what), the table, the edge state
// of a slot from HAProxy's bits, and the newest backup of a prefix with its verification record.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatChecksumFile } from "../../src/backup/checksum";
import { formatRecord } from "../../src/backup/proof-record";
import { lastBackup } from "../../src/status/observe";
import { edgeStateOf, formatReport, judge, type ReplicaStatus, type StatusReport } from "../../src/status/report";
import { edgeAcross, maintenanceAcross, trafficAt } from "../../src/status/swarm";
import { ADMIN_FORCED_DRAIN, OP_RUNNING, type ServerState } from "../../src/edge/runtime-api";

const now = new Date("2026-12-05T12:00:00Z");
const replica = (n: number, over: Partial<ReplicaStatus> = {}): ReplicaStatus => ({
  container: `slipway-staging-api-abc123-${n}`,
  state: "running",
  health: "healthy",
  image: "slipway/api:v2",
  revision: "abc123def4567890",
  slot: `api/s${n}`,
  edge: "UP",
  weight: 1,
  ...over,
});
const healthy: StatusReport = {
  stack: "staging",
  host: "the local Docker engine",
  image: "slipway/api:v2",
  replicas: [replica(1), replica(2)],
  standby: { revision: "0123456789abcdef", containers: ["slipway-staging-api-012345-1"], until: "2026-12-05T12:10:00Z" },
  backup: { dir: "/var/backups/slipway", maxAgeDays: 2, last: { dump: "slipway-staging-20261205T030000Z-v2.dump", takenAt: "2026-12-05T03:00:00Z", verification: "verified" } },
  deploys: [{ position: 7, startTime: "2026-12-05T11:00:00Z", kind: "update", result: "succeeded", image: "slipway/api:v2", message: "promote slipway/api:v2" }],
};

test("all replicas running, healthy, UP with weight; standby within its window; a fresh backup: healthy", () => {
  assert.deepEqual(judge(healthy, now), { healthy: true, problems: [] });
  assert.equal(judge({ ...healthy, replicas: [replica(1, { health: "none" })] }, now).healthy, true, "an image without a health check");
});

test("each unhealthy thing is named: a stopped replica, one draining, one without a slot, an unhealthy one", () => {
  const v = judge(
    {
      ...healthy,
      replicas: [replica(1, { state: "exited", edge: "DOWN" }), replica(2, { edge: "DRAIN", weight: 0 }), replica(3, { edge: "absent", slot: undefined }), replica(4, { health: "unhealthy" }), replica(5, { weight: 0 })],
    },
    now,
  );
  assert.equal(v.healthy, false);
  assert.deepEqual(v.problems, [
    "replica slipway-staging-api-abc123-1: container exited, DOWN at the edge (api/s1)",
    "replica slipway-staging-api-abc123-2: DRAIN at the edge (api/s2)",
    "replica slipway-staging-api-abc123-3: no slot at the edge",
    "replica slipway-staging-api-abc123-4: health unhealthy",
    "replica slipway-staging-api-abc123-5: UP at the edge but weight 0 (api/s5)",
  ]);
  assert.deepEqual(judge({ ...healthy, replicas: [] }, now).problems, ['stack "staging" has no API replicas (is it deployed?)']);
});

test("an expired standby, a backup older than backup.maxAgeDays, none at all, a failed proof: each a problem", () => {
  assert.deepEqual(judge({ ...healthy, standby: { ...healthy.standby!, until: "2026-12-05T11:59:59Z" } }, now).problems, [
    "blue-green standby 0123456789ab expired at 2026-12-05T11:59:59Z (the next update removes it)",
  ]);
  const old = { ...healthy.backup!.last!, takenAt: "2026-12-02T12:00:00Z" };
  assert.deepEqual(judge({ ...healthy, backup: { ...healthy.backup!, last: old } }, now).problems, [
    "last backup slipway-staging-20261205T030000Z-v2.dump is 3.0 days old (backup.maxAgeDays 2)",
  ]);
  assert.deepEqual(judge({ ...healthy, backup: { dir: "/b", maxAgeDays: 1 } }, now).problems, ["no backup in /b (backup.maxAgeDays 1)"]);
  assert.deepEqual(judge({ ...healthy, backup: { dir: "/b" } }, now).problems, [], "no age limit, no backup: not judged");
  assert.deepEqual(judge({ ...healthy, backup: { dir: "/b", last: { ...old, verification: "failed" } } }, now).problems, [
    "last backup slipway-staging-20261205T030000Z-v2.dump failed its verification by restore",
  ]);
});

test("the table: a row per replica with revision, image, state, health, edge slot and weight; standby, backup, deploys, verdict", () => {
  const text = formatReport(healthy, judge(healthy, now), now);
  assert.match(text, /^stack staging on the local Docker engine, image slipway\/api:v2\n/);
  assert.match(text, /REPLICA\s+REVISION\s+IMAGE\s+CONTAINER\s+HEALTH\s+EDGE\s+WEIGHT/);
  assert.match(text, /slipway-staging-api-abc123-1\s+abc123def456\s+slipway\/api:v2\s+running\s+healthy\s+UP api\/s1\s+1/);
  assert.match(text, /standby: 0123456789ab \(slipway-staging-api-012345-1\), expires 2026-12-05T12:10:00Z \(in 10 min\)/);
  assert.match(text, /backup: slipway-staging-20261205T030000Z-v2\.dump, 9\.0 h old, verified by restore \(maxAgeDays 2\)/);
  assert.match(text, /#7\s+2026-12-05T11:00:00Z\s+update\s+succeeded\s+slipway\/api:v2\s+promote slipway\/api:v2/);
  assert.match(text, /\nhealthy$/);
  const sick = { ...healthy, replicas: [replica(1, { state: "exited", edge: "DOWN" as const })] };
  assert.match(formatReport(sick, judge(sick, now), now), /\nUNHEALTHY:\n {2}- replica slipway-staging-api-abc123-1: container exited, DOWN at the edge \(api\/s1\)$/);
});

test("edge state from HAProxy's admin bits and operational state", () => {
  assert.equal(edgeStateOf(0, 2), "UP");
  assert.equal(edgeStateOf(0, 0), "DOWN");
  assert.equal(edgeStateOf(0x08, 2), "DRAIN");
  assert.equal(edgeStateOf(0x01, 2), "MAINT");
  assert.equal(edgeStateOf(0x20, 0), "MAINT", "maintenance by DNS resolution (an empty slot)");
  assert.equal(edgeStateOf(0x09, 2), "MAINT");
});

test("lastBackup: the newest finished dump of the prefix, verified only when its record vouches for its bytes", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-status-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sha = "a".repeat(64);
  const older = "slipway-staging-20261201T030000Z-v1.dump";
  const newer = "slipway-staging-20261204T030000Z-v2.dump";
  for (const f of [older, newer, "slipway-production-20261205T030000Z-v2.dump", "slipway-staging-20261205T030000Z-v3.dump.partial"]) writeFileSync(join(dir, f), "x");
  writeFileSync(join(dir, `${newer}.sha256`), formatChecksumFile(sha, newer));
  const record = { version: 1 as const, dump: newer, sha256: sha, ok: true, verifiedAt: "2026-12-04T03:01:00Z", image: "sha256:1", imageName: "pg", sourceCounts: {}, restoredCounts: {}, problems: [], restoreSeconds: 1, seconds: 2 };
  return (async () => {
    assert.deepEqual(await lastBackup(dir, "slipway-staging"), { dump: newer, takenAt: "2026-12-04T03:00:00.000Z", verification: "never" });
    writeFileSync(join(dir, `${newer}.verified.json`), formatRecord(record));
    assert.equal((await lastBackup(dir, "slipway-staging"))?.verification, "verified");
    writeFileSync(join(dir, `${newer}.verified.json`), formatRecord({ ...record, ok: false, problems: ["rows differ"] }));
    assert.equal((await lastBackup(dir, "slipway-staging"))?.verification, "failed");
    assert.equal(await lastBackup(join(dir, "nope"), "slipway-staging"), undefined, "no directory yet: no backup");
    assert.equal(await lastBackup(dir, "slipway-other"), undefined);
  })();
});

test("swarm: a task's slot is UP only when UP at every edge task; fewer tasks than the stack declares is a problem; a NODE column", () => {
  const slot = (addr: string, over: Partial<ServerState> = {}): ServerState => ({ backend: "api", id: 1, name: "a1", addr, opState: OP_RUNNING, adminState: 0, weight: 1, fullWeight: 1, port: 3000, ...over });
  const both = [{ node: "n2", slots: [slot("10.0.1.5")] }, { node: "n3", slots: [slot("10.0.1.5")] }];
  assert.deepEqual(edgeAcross(["10.0.1.5", "10.0.2.7"], both), { edge: "UP", slot: "api/a1 at 2 edge tasks", weight: 1 });
  const drainedOnN3 = [both[0]!, { node: "n3", slots: [slot("10.0.1.5", { adminState: ADMIN_FORCED_DRAIN, weight: 0 })] }];
  assert.deepEqual(edgeAcross(["10.0.1.5"], drainedOnN3), { edge: "DRAIN", slot: "api/a1 at the edge on n3", weight: 0 });
  assert.deepEqual(edgeAcross(["10.0.1.5"], [both[0]!, { node: "n3", slots: [] }]), { edge: "absent", slot: "api/a1 at the edge on n3", weight: 1 });
  assert.deepEqual(edgeAcross(["10.0.1.5"], []), { edge: "absent" }, "no edge task answering: nothing is UP");

  // Maintenance at every edge task: on everywhere (the message), off everywhere, or split — a problem naming both sides.
  assert.deepEqual(maintenanceAcross([{ node: "n2", message: "back soon" }, { node: "n3", message: "back soon" }]), { maintenance: "back soon" });
  assert.deepEqual(maintenanceAcross([{ node: "n2" }, { node: "n3" }]), {});
  const split = maintenanceAcross([{ node: "n2", message: "back soon" }, { node: "n3" }]);
  assert.deepEqual(split, { maintenance: "back soon", maintenanceSplit: 'ON at n2 ("back soon"); off at n3' });
  assert.deepEqual(judge({ ...healthy, ...split }, now).problems, ['maintenance differs between the edge tasks (ON at n2 ("back soon"); off at n3): run npm run maintenance -- --stack staging on|off again']);

  // Blue-green: the standby's tasks drained at every edge task is idle; UP at one (a new edge task) is traffic to it, named.
  const standbyAt = [{ node: "n2", slots: [slot("10.0.3.9", { name: "b1", adminState: ADMIN_FORCED_DRAIN, weight: 0 })] }, { node: "n3", slots: [slot("10.0.3.9", { name: "b1" })] }];
  assert.deepEqual(trafficAt(["10.0.3.9"], standbyAt), ["n3"]);
  assert.deepEqual(trafficAt(["10.0.3.9"], [standbyAt[0]!]), []);
  const standby = { revision: "r0", containers: ["slipway-prod-api-b"], until: "2026-12-05T12:10:00Z" };
  assert.deepEqual(judge({ ...healthy, standby, standbyTraffic: ["n3"] }, now).problems, ["blue-green standby slipway-prod-api-b takes traffic at the edge on n3 (an edge task started since the switch has every slot ready): promote or roll back once to make it idle again"]);
  assert.deepEqual(judge({ ...healthy, standby }, now).problems, [], "an idle standby inside its window is healthy");

  const task = (n: number, node: string, over: Partial<ReplicaStatus> = {}) => replica(n, { container: `slipway-prod-api-a.t${n}`, node, slot: "api/a1 at 2 edge tasks", ...over });
  const swarm: StatusReport = { ...healthy, standby: undefined, replicas: [task(1, "n1"), task(2, "n2"), task(3, "n3")], wanted: 3 };
  assert.deepEqual(judge(swarm, now), { healthy: true, problems: [] });
  const short = { ...swarm, replicas: [task(1, "n1"), task(2, "n2", { state: "running, node down" })] };
  assert.deepEqual(judge(short, now).problems, ["2 of 3 API replicas are scheduled", "replica slipway-prod-api-a.t2: container running, node down"]);
  const text = formatReport(swarm, judge(swarm, now), now);
  assert.match(text, /^REPLICA\s+NODE\s+REVISION/m);
  assert.match(text, /^slipway-prod-api-a\.t3\s+n3\s+abc123def456/m);
  assert.doesNotMatch(formatReport(healthy, judge(healthy, now), now), /NODE/, "one host: no NODE column");
});

test("the database: unhealthy when it is not running, its hot standby does not stream, or WAL archiving fails; shown in one line", () => {
  const database = {
    primary: { container: "slipway-p-db", state: "running" },
    standby: { container: "slipway-p-db-standby", state: "running", streaming: true, replication: "streaming", lagBytes: 0 },
    walArchive: { ok: true as const },
  };
  const ok = { ...healthy, database };
  assert.deepEqual(judge(ok, now), { healthy: true, problems: [] });
  assert.match(formatReport(ok, judge(ok, now), now), /^database: slipway-p-db \(running\); hot standby slipway-p-db-standby: streaming, 0 bytes behind; WAL archive ok$/m);
  const fenced = { ...healthy, database: { ...database, standby: { container: "slipway-p-db", state: "exited", streaming: false } } };
  const v = judge(fenced, now);
  assert.equal(v.healthy, false);
  assert.match(v.problems.join("\n"), /hot standby slipway-p-db is not streaming from slipway-p-db \(container exited\).*npm run reseed/);
  assert.match(formatReport(fenced, v, now), /hot standby slipway-p-db: NOT streaming \(container exited\)/);
  assert.match(judge({ ...healthy, database: { primary: { container: "slipway-p-db", state: "exited" } } }, now).problems.join("\n"), /database slipway-p-db: container exited/);
  const failing = { ...healthy, database: { primary: database.primary, walArchive: { ok: false as const, error: "archiving WAL fails: 000000010000000000000003 failed at 2026-12-05T11:59:00.000Z (3 failures; no segment archived yet)" } } };
  assert.match(judge(failing, now).problems.join("\n"), /archiving WAL fails: 0+10+3 failed at .*WalArchiveFailing/);
  assert.match(formatReport(failing, judge(failing, now), now), /WAL archive FAILING/);
  assert.doesNotMatch(formatReport(healthy, judge(healthy, now), now), /^database:/m, "no line without a database (swarm, or not deployed)");
});
