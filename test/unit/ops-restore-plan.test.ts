// Restore's plan around the data: maintenance on/off at the edge, the running image's migrations, and what a
// failed step does to maintenance and says about the edge.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { migrateEnv, pgpassLine } from "../../src/restore/migrate";
import { describePlan, maintenanceAfter, PlanRefusal, planRestore, type StackState } from "../../src/restore/plan";

const deployed: StackState = {
  stack: "slipway-staging",
  edges: ["slipway-staging-edge-1a2b"],
  maintenanceBefore: undefined,
  api: [
    { name: "slipway-staging-api-aaaa-1", image: "app:v2", imageId: "sha256:" + "2".repeat(64) },
    { name: "slipway-staging-api-aaaa-2", image: "app:v2", imageId: "sha256:" + "2".repeat(64) },
  ],
  dbNetworks: ["slipway-staging-backend"],
};
const plan = (state: Partial<StackState>, flags: { maintenance?: boolean; migrate?: boolean } = {}) =>
  planRestore({ state: { ...deployed, ...state }, maintenance: flags.maintenance ?? true, migrate: flags.migrate ?? true, dbContainer: "slipway-staging-db" });

describe("restore plan", () => {
  it("a deployed stack: maintenance on, migrations of the running image on the database's network", () => {
    const p = plan({});
    assert.deepEqual(p, {
      maintenance: { action: "turn-on" },
      migrate: { action: "run", imageId: "sha256:" + "2".repeat(64), image: "app:v2", network: "slipway-staging-backend" },
    });
    const lines = describePlan(p, "slipway-staging");
    assert.match(lines[0]!, /maintenance: will turn ON at the edge of 'slipway-staging' for the restore, and off after it/);
    assert.match(lines[1]!, /migrations: will run those of the running API image app:v2 \(sha256:222222222222\)/);
  });

  it("says why each step is skipped", () => {
    const noFlags = plan({}, { maintenance: false, migrate: false });
    assert.deepEqual(noFlags.maintenance, { action: "skip", why: "--no-maintenance: clients keep reaching the API while the data is replaced" });
    assert.equal(noFlags.migrate.action, "skip");
    assert.match(describePlan(noFlags, "s").join("\n"), /maintenance: skipped — --no-maintenance[\s\S]*migrations: skipped — --no-migrate/);

    const plain = plan({ stack: undefined, edges: [], api: [], dbNetworks: [] });
    assert.match((plain.maintenance as { why: string }).why, /'slipway-staging-db' carries no slipway.stack label, so it is not part of a deployed stack \(no edge/);
    assert.match((plain.migrate as { why: string }).why, /not part of a deployed stack \(no running API/);

    const noEdge = plan({ edges: [] });
    assert.deepEqual(noEdge.maintenance, { action: "skip", why: "stack 'slipway-staging' has no running edge (HAProxy) to put in maintenance" });
    assert.equal(noEdge.migrate.action, "run", "migrations do not need the edge");

    const noApi = plan({ api: [] });
    assert.match((noApi.migrate as { why: string }).why, /no running API replica.*the next deploy runs them/);
  });

  it("maintenance already on: left on, before and after, whatever happens", () => {
    const p = plan({ maintenanceBefore: "Back at noon" });
    assert.deepEqual(p.maintenance, { action: "already-on", message: "Back at noon" });
    for (const failed of [undefined, "restore", "migrate"] as const) {
      const after = maintenanceAfter(p, "staging", failed);
      assert.equal(after.turnOff, false);
      assert.match(after.edge, /maintenance stays ON, as it was before the restore; turn it off with `npm run maintenance -- --stack staging off`/);
    }
  });

  it("turned on by restore: off after success and after a failed restore, ON after failed migrations", () => {
    const p = plan({});
    assert.deepEqual(maintenanceAfter(p, "staging"), { turnOff: true, edge: "maintenance turned off again: the edge serves traffic" });
    assert.equal(maintenanceAfter(p, "staging", "restore").turnOff, true);
    const migrate = maintenanceAfter(p, "staging", "migrate");
    assert.equal(migrate.turnOff, false);
    assert.match(migrate.edge, /stays ON: the restored schema is older than the running API expects.*--stack staging off/);
    assert.deepEqual(maintenanceAfter(plan({}, { maintenance: false }), "staging", "restore"), { turnOff: false, edge: "the edge was not touched (maintenance skipped)" });
  });

  it("refuses, before anything changes, when it cannot know which migrations to run", () => {
    const mixed = { api: [deployed.api[0]!, { name: "slipway-staging-api-bbbb-1", image: "app:v3", imageId: "sha256:" + "3".repeat(64) }] };
    assert.throws(() => plan(mixed), (e: Error) => e instanceof PlanRefusal && /run different images \(slipway-staging-api-aaaa-1 \(app:v2\), slipway-staging-api-bbbb-1 \(app:v3\)\) and none is the image the stack deployed.*let the rollout finish, or pass --no-migrate/.test(e.message));
    assert.throws(() => planRestore({ state: { ...deployed, ...mixed }, maintenance: true, migrate: true, dbContainer: "db", deployedImage: "app:v9" }), PlanRefusal);
    assert.equal(plan(mixed, { migrate: false }).migrate.action, "skip");
    assert.throws(() => plan({ dbNetworks: [] }), /on no user-defined network.*--no-migrate/);
  });

  it("a blue-green standby (or a rollout) runs another image beside the deployed one: the deployed image's migrations run", () => {
    const standby = { name: "slipway-staging-api-bbbb-1", image: "app:v1", imageId: "sha256:" + "1".repeat(64) };
    const p = planRestore({ state: { ...deployed, api: [...deployed.api, standby] }, maintenance: true, migrate: true, dbContainer: "db", deployedImage: "app:v2" });
    assert.deepEqual(p.migrate, { action: "run", imageId: "sha256:" + "2".repeat(64), image: "app:v2", network: "slipway-staging-backend" });
    const back = planRestore({ state: { ...deployed, api: [...deployed.api, standby] }, maintenance: true, migrate: true, dbContainer: "db", deployedImage: "app:v1" });
    assert.equal((back.migrate as { imageId: string }).imageId, standby.imageId, "after a switch back, the standby is what serves");
  });

  it("the migration container reaches the database by name, as a temporary role switching to the owner; its password only in a pgpass file", () => {
    const env = migrateEnv("slipway-staging-db", "appdb", { user: "slipway_restore_0a1b2c3d", role: "slipway_owner" });
    assert.deepEqual(env, [
      "PGHOST=slipway-staging-db",
      "PGUSER=slipway_restore_0a1b2c3d",
      "PGDATABASE=appdb",
      "PGOPTIONS=-c role=slipway_owner",
      "PGPASSFILE=/run/secrets/pgpass",
    ]);
    assert.equal(pgpassLine("db", "app", "u", "p:w\\d"), "db:*:app:u:p\\:w\\\\d\n");
  });
});
