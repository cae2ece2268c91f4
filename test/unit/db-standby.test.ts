// database.standby without Docker: the settings it refuses (each named), what `npm run failover` decides (pure), the
// standby's start command and SQL, and — under Pulumi's mocks — that which member serves changes no database
// container's declaration (the first `pulumi up` after a failover replaces neither), only where the steps run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadStackConfig } from "../../stacks/load";
import { violations } from "../support/stack-config";
import { execFileSync } from "node:child_process";
import { decideFailover, decideReseed, failoverTarget, type Observed, type ReseedObserved, type Values } from "../../src/failover/plan";
import { FAILOVER_VERB, RESEED_VERB } from "../../src/failover/verb";
import { memberNames, replicationCommand, replicationPassfile, replicationScript, reseedScript, standbyCommand, synchronousCommand, DATA_PASSFILE, MAX_SLOT_WAL_KEEP, RESEED_PASSFILE_UPLOAD, STANDBY_SLOT } from "../../src/postgres/standby";
import { prefixOfDbContainer } from "../../src/vocabulary";
import { declareProgram as declare, type Registered } from "../support/declare";

const base = {
  environment: "staging",
  images: { api: "slipway/api:1", edge: "slipway/edge:1", postgres: "slipway-local/postgres:17" },
  api: { replicas: 2 },
  edge: { port: 18080 },
};

test("settings: off by default; refused on swarm and without enabled, each by its key", () => {
  const cfg = loadStackConfig("s", { ...base, database: {} });
  assert.deepEqual(cfg.database.standby, { enabled: false, synchronous: false, serving: "db", apiWaitSeconds: 30 });
  assert.deepEqual(violations({ ...base, database: { standby: { enabled: true, synchronous: true } } }), []);
  assert.match(violations({ ...base, target: "swarm", database: { standby: { enabled: true } } }).join("\n"), /slipway:database\.standby\.enabled\b.*not supported on target swarm/);
  assert.match(violations({ ...base, database: { standby: { synchronous: true } } }).join("\n"), /slipway:database\.standby\.synchronous: needs database\.standby\.enabled: true/);
  assert.match(violations({ ...base, database: { standby: { serving: "standby" } } }).join("\n"), /slipway:database\.standby\.serving: is standby, but database\.standby\.enabled is false/);
  assert.match(violations({ ...base, database: { standby: { enabled: true, serving: "replica" } } }).join("\n"), /slipway:database\.standby\.serving/);
  assert.match(violations({ ...base, database: { standby: { enabled: true, apiWaitSeconds: 301 } } }).join("\n"), /slipway:database\.standby\.apiWaitSeconds/);
});

const outputs = (db: string, standby: string | null): Values => ({ dbContainer: { value: db }, dbStandbyContainer: { value: standby } });
const config = (standby: Record<string, unknown>, extra: Values = {}): Values => ({ "slipway:database": { value: JSON.stringify({ user: "app", standby }) }, ...extra });

test("failoverTarget: the members from the outputs, the serving one first (either member); refuses swarm, no standby", () => {
  assert.deepEqual(failoverTarget("prod", outputs("slipway-prod-db", "slipway-prod-db-standby"), config({ enabled: true }, { "slipway:dockerHost": { value: "ssh://h" } })), {
    prefix: "slipway-prod",
    primary: "slipway-prod-db",
    standby: "slipway-prod-db-standby",
    standbyMember: "standby",
    dbUser: "app",
    restartPolicy: "unless-stopped",
    synchronous: false,
    dockerHost: "ssh://h",
  });
  assert.throws(() => failoverTarget("p", outputs("x-db", "x-db-standby"), config({ enabled: true }, { "slipway:target": { value: "swarm" } })), /target swarm, where slipway declares no hot standby/);
  assert.throws(() => failoverTarget("p", outputs("x-db", null), config({})), /stack "p" has no hot standby \(slipway:database\.standby\.enabled is not true\).*npm run restore -- --stack p/);
  // failed over once: the promoted member serves; the fenced one is what a re-seed works on and a failover back promotes
  assert.deepEqual(failoverTarget("p", outputs("x-db-standby", "x-db"), config({ enabled: true, serving: "standby", synchronous: true })), {
    prefix: "x", primary: "x-db-standby", standby: "x-db", standbyMember: "db", dbUser: "app", restartPolicy: "unless-stopped", synchronous: true,
  });
  // right after the failover, before the next up, the outputs still name the old primary: the stack file decides
  assert.equal(failoverTarget("p", outputs("x-db", "x-db-standby"), config({ enabled: true, serving: "standby" })).primary, "x-db-standby");
  assert.throws(() => failoverTarget("p", {}, config({ enabled: true })), /no dbContainer\/dbStandbyContainer outputs/);
});

test("decideFailover: promotes only a running standby in recovery; a running primary only with --yes", () => {
  const t = { primary: "x-db", standby: "x-db-standby" };
  const seen = (p: Partial<Observed["primary"]>, s: Partial<Observed["standby"]>): Observed => ({
    primary: { exists: true, running: false, ...p },
    standby: { exists: true, running: true, inRecovery: true, ...s },
  });
  assert.deepEqual(decideFailover(t, seen({}, {}), false), { go: true, stopPrimary: false });
  assert.deepEqual(decideFailover(t, seen({ exists: false }, {}), false), { go: true, stopPrimary: false }, "a primary whose container is gone");
  assert.deepEqual(decideFailover(t, seen({ running: true }, {}), true), { go: true, stopPrimary: true }, "a planned switchover");
  const refused = (o: Observed, yes = false) => {
    const d = decideFailover(t, o, yes);
    assert.equal(d.go, false);
    return d.go ? "" : d.why;
  };
  assert.match(refused(seen({ running: true }, {})), /the primary x-db is still running.*--yes.*nothing was changed/);
  assert.match(refused(seen({}, { exists: false })), /x-db-standby does not exist/);
  assert.match(refused(seen({}, { running: false, state: "exited" })), /x-db-standby is not running \(exited\): start it/);
  assert.match(refused(seen({}, { inRecovery: false })), /x-db-standby is not a standby: it is a primary already/);
  assert.match(refused(seen({}, { inRecovery: undefined })), /x-db-standby does not answer on its local socket/);
  // a fenced member comes up read-only, in recovery: it would pass every check above, and hold what the primary never had
  assert.match(refused(seen({}, { fenced: true })), /x-db-standby was fenced by a failover.*npm run reseed.*nothing was changed/);
  assert.match(refused(seen({}, { fenced: true, running: false })), /fenced/, "fenced is said before stopped: starting it would not help");
});

test("decideReseed: only with --yes, from a serving primary, never over a second primary; nothing to do when it streams", () => {
  const t = { primary: "x-db-standby", standby: "x-db" };
  const seen = (s: Partial<ReseedObserved["serving"]>, o: Partial<ReseedObserved["other"]>): ReseedObserved => ({
    serving: { running: true, inRecovery: false, ...s },
    other: { exists: true, running: false, streaming: false, fenced: true, ...o },
  });
  assert.deepEqual(decideReseed(t, seen({}, {}), true), { go: true, stopOther: false });
  assert.deepEqual(decideReseed(t, seen({}, { running: true, inRecovery: true }), true), { go: true, stopOther: true }, "a fenced member started by hand: read-only");
  assert.deepEqual(decideReseed(t, seen({}, { running: true, inRecovery: true, fenced: false }), true), { go: true, stopOther: true }, "a standby that lost its slot");
  const refused = (o: ReseedObserved, yes = true) => {
    const d = decideReseed(t, o, yes);
    assert.equal(d.go, false);
    return d.go ? "" : d;
  };
  assert.match((refused(seen({}, {}), false) as { why: string }).why, /empties x-db's data directory \(fenced by the failover: what it wrote that never reached the new primary is lost with it\).*Pass --yes.*nothing was changed/);
  assert.match((refused(seen({ running: false }, {})) as { why: string }).why, /serving member x-db-standby is not running/);
  assert.match((refused(seen({ inRecovery: true }, {})) as { why: string }).why, /x-db-standby is not a primary \(in recovery\)/);
  assert.match((refused(seen({}, { exists: false })) as { why: string }).why, /x-db does not exist: deploy the stack/);
  assert.match((refused(seen({}, { running: true, inRecovery: false })) as { why: string }).why, /x-db runs as a primary too: two writers/);
  assert.deepEqual(refused(seen({}, { running: true, inRecovery: true, streaming: true, fenced: false }), false), { go: false, done: true, why: "x-db is a standby streaming from x-db-standby already: nothing to do" }, "done even without --yes");
});

test("the re-seed's script: valid bash; empties, copies through the slot as the replication role, keeps the passfile in the data directory", () => {
  const script = reseedScript("/var/lib/postgresql/data");
  execFileSync("bash", ["-n", "-c", script]);
  const lines = script.split("\n");
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/^find \/var\/lib\/postgresql\/data -mindepth 1 -delete$/) < at(/pg_basebackup/));
  assert.match(script, new RegExp(`install -o postgres -g postgres -m 600 ${RESEED_PASSFILE_UPLOAD} /tmp/replication.pgpass`));
  assert.match(script, /setpriv --reuid=postgres .* pg_basebackup --host db --username slipway_replicator --pgdata \/var\/lib\/postgresql\/data --wal-method=stream --slot=slipway_standby/);
  // after the copy: what the copy brought (a primary's auto.conf) is followed by the standby's settings, which win
  assert.ok(at(/pg_basebackup/) < at(/postgresql\.auto\.conf/) && at(/postgresql\.auto\.conf/) < at(/standby\.signal/));
  // what the line appends, as bash writes it
  const append = lines[at(/postgresql\.auto\.conf/)]!.replace(/ >> \S+$/, "");
  assert.equal(execFileSync("bash", ["-c", append], { encoding: "utf8" }), [
    `primary_conninfo = 'host=db user=slipway_replicator passfile=/var/lib/postgresql/data/${DATA_PASSFILE} application_name=slipway_standby'`,
    "primary_slot_name = 'slipway_standby'",
    "",
  ].join("\n"));
  assert.doesNotMatch(script, /PGPASSWORD|password=/i, "no password in the script: it is a file uploaded into the container");
});

test("the members' names and the prefix read back from either", () => {
  assert.deepEqual(memberNames("slipway-p"), { db: "slipway-p-db", standby: "slipway-p-db-standby" });
  assert.equal(prefixOfDbContainer("slipway-p-db"), "slipway-p");
  assert.equal(prefixOfDbContainer("slipway-p-db-standby"), "slipway-p");
  assert.equal(prefixOfDbContainer("slipway-p-postgres"), undefined);
});

test("the standby's commands: the password never on a command line; seeding only on an empty data directory", () => {
  assert.equal(replicationPassfile("abc123"), "*:*:replication:slipway_replicator:abc123\n");
  assert.equal(replicationPassfile("a:b\\c"), "*:*:replication:slipway_replicator:a\\:b\\\\c\n");
  const script = replicationScript();
  assert.match(script, /LOGIN REPLICATION NOSUPERUSER/);
  assert.match(script, new RegExp(`pg_create_physical_replication_slot\\(%L\\)', '${STANDBY_SLOT}'`));
  assert.match(script, new RegExp(`max_slot_wal_keep_size = '${MAX_SLOT_WAL_KEEP}'`));
  const repl = replicationCommand("x-db", { user: "app", database: "app" });
  assert.match(repl, /host replication slipway_replicator all scram-sha-256/);
  assert.ok(!/PASSWORD '[A-Za-z0-9]/.test(repl), "the password comes from the environment through stdin");
  const start = standbyCommand(["postgres", "-c", "archive_mode=on"]).join(" ");
  assert.match(start, /if \[ ! -s "\$PGDATA\/PG_VERSION" \]; then/);
  assert.match(start, /pg_basebackup --host db --username slipway_replicator --pgdata "\$PGDATA" --wal-method=stream --slot=slipway_standby/);
  assert.match(start, /exec docker-entrypoint.sh postgres -c 'primary_conninfo=host=db user=slipway_replicator passfile=\S+ application_name=slipway_standby' -c primary_slot_name=slipway_standby -c archive_mode=on$/);
  // synchronous: switched on only once the standby streams; off at once
  const on = synchronousCommand("x-db", { user: "app" }, true, 5);
  assert.ok(on.indexOf("streaming") > 0 && on.indexOf("streaming") < on.indexOf("ALTER SYSTEM SET synchronous_standby_names"), on);
  assert.doesNotMatch(synchronousCommand("x-db", { user: "app" }, false), /streaming/);
});

test("the failover and reseed verbs' help names their steps and refusals", () => {
  const help = FAILOVER_VERB.notes.join(" ");
  for (const word of ["restart policy set to no", "standby.signal", "pg_promote()", "database.standby.serving", "apiWaitSeconds", "--yes", "target swarm", "npm run reseed"]) assert.ok(help.includes(word), word);
  const reseedHelp = RESEED_VERB.notes.join(" ");
  for (const word of ["pg_basebackup", "fresh replication slot", "without the db alias", "database.restartPolicy", "database.standby.synchronous", "--yes", "two writers", "target swarm"]) assert.ok(reseedHelp.includes(word), word);
});

const byName = (rs: Registered[], name: string) => rs.find((x) => x.name === name);
const withStandby = (serving: "db" | "standby", synchronous = false) =>
  declare("production", { "slipway:database": { name: "app", user: "app", limits: { memoryMb: 512, cpus: 1 }, standby: { enabled: true, serving, synchronous } } });

test("under mocks: serving db → standby changes no database container, only where the steps run; the alias and the networks belong to the failover", () => {
  const before = withStandby("db", true);
  const after = withStandby("standby", true);
  assert.equal(before.error, undefined);
  assert.equal(after.error, undefined);
  for (const name of ["db-container", "db-standby-container", "db-data", "db-standby-data"]) {
    assert.deepEqual(byName(after.resources, name)?.inputs, byName(before.resources, name)?.inputs, `${name} declared the same`);
  }
  const db = byName(before.resources, "db-container")!;
  const standby = byName(before.resources, "db-standby-container")!;
  assert.deepEqual(db.inputs.networksAdvanced.map((n: { aliases?: string[] }) => n.aliases), [["db"]]);
  assert.deepEqual(standby.inputs.networksAdvanced.map((n: { aliases?: string[] }) => n.aliases ?? []), [[]]);
  assert.equal(standby.inputs.name, "slipway-production-db-standby");
  assert.ok(!JSON.stringify(standby.inputs.envs).includes("PASSWORD"), "no password in the standby's environment");
  // While <prefix>-db serves: the replication and synchronous steps on it; after a failover neither (no standby to feed).
  assert.ok(byName(before.resources, "db-standby-replication"));
  assert.ok(byName(before.resources, "db-standby-synchronous"));
  assert.equal(byName(after.resources, "db-standby-replication"), undefined);
  assert.equal(byName(after.resources, "db-standby-synchronous"), undefined);
  // The deploy steps run on the serving member.
  assert.match(JSON.stringify(byName(before.resources, "deploy-roles")!.inputs.create), /docker exec slipway-production-db sh/);
  assert.match(JSON.stringify(byName(after.resources, "deploy-roles")!.inputs.create), /docker exec slipway-production-db-standby sh/);
  // The replicas wait out a failover for a connection.
  const off = declare("production");
  assert.equal(byName(off.resources, "db-standby-container"), undefined, "no standby unless enabled");
});
