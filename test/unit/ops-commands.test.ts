// Exact command lines for backup and restore.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupVerb } from "../../src/backup/verb";
import { countedDumpScript, dockerExec, shellJoin, pgDump, pgRestoreReadAll, pgRestoreReplace, replaceSchemasSql, restoreProblem, DEFAULT_LOCK_TIMEOUT_MS, cancelRestoreCommand } from "../../src/postgres/commands";

const db = { database: "slipway", user: "slipway" };

describe("ops commands", () => {
  it("dumps in custom format to stdout", () => {
    assert.deepEqual(pgDump(db), ["pg_dump", "--format=custom", "--compress=1", "--username", "slipway", "--dbname", "slipway"]);
    assert.match(countedDumpScript(db), /\\! pg_dump --format=custom --compress=1 --username slipway --dbname slipway --snapshot=/);
    assert.deepEqual(dockerExec("prod-db", pgDump(db)), ["docker", "exec", "prod-db", "pg_dump", "--format=custom", "--compress=1", "--username", "slipway", "--dbname", "slipway"]);
  });

  it("reads whole archives from stdin", () => {
    assert.deepEqual(pgRestoreReadAll(), ["pg_restore", "--file=/dev/null"]);
    assert.deepEqual(dockerExec("db", pgRestoreReadAll(), { stdin: true }), ["docker", "exec", "-i", "db", "pg_restore", "--file=/dev/null"]);
  });

  it("restores in one transaction that first replaces the database's schemas, with the lock timeout, COMMIT only after pg_restore read everything", () => {
    const argv = pgRestoreReplace(db, 1500);
    assert.deepEqual(argv.slice(0, 2), ["sh", "-c"]);
    assert.deepEqual(argv.slice(3, 6), ["slipway-restore", "slipway", "slipway"], "user and database are arguments, never spliced into the script");
    assert.match(argv[2]!, /pg_restore --file=- --no-owner --no-privileges\n {2}rc=\$\?/);
    assert.match(argv[2]!, /if \[ "\$rc" -eq 0 \]; then printf 'COMMIT;\\n'; else printf 'ROLLBACK;\\n'; printf 'slipway-pg_restore-exit=%s\\n'/);
    assert.match(argv[2]!, /\| PGAPPNAME=slipway-restore psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username "\$1" --dbname "\$2"/);
    const sql = argv[6]!;
    assert.ok(sql.startsWith("BEGIN;\n"), "one transaction, opened before the drop");
    assert.match(sql, /SET lock_timeout = '1500ms';[\s\S]*DROP SCHEMA %I CASCADE[\s\S]*CREATE SCHEMA public AUTHORIZATION pg_database_owner/);
    assert.ok(!/COMMIT/.test(sql), "the prelude never commits");
    assert.equal(pgRestoreReplace(db)[6], replaceSchemasSql(DEFAULT_LOCK_TIMEOUT_MS), "one default");
    assert.throws(() => pgRestoreReplace(db, 0), /lock timeout must be a whole number/);
    assert.throws(() => replaceSchemasSql(1.5), /lock timeout/);
  });

  it("ends the restore's own session (by its application_name) when interrupted", () => {
    const argv = cancelRestoreCommand(db);
    assert.deepEqual(argv.slice(0, 2), ["psql", "--no-psqlrc"]);
    assert.equal(argv.at(-1), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'slipway-restore'");
  });

  it("judges a restore run by exit code and the pg_restore marker", () => {
    assert.equal(restoreProblem({ exitCode: 0, stderr: "" }), undefined);
    assert.match(restoreProblem({ exitCode: 0, stderr: "pg_restore: error: could not read from input file: end of file\nslipway-pg_restore-exit=1\n" })!, /^pg_restore could not read the archive \(exit 1\): pg_restore: error: could not read/);
    assert.match(restoreProblem({ exitCode: 3, stderr: "ERROR:  canceling statement due to lock timeout\n" })!, /held a lock .* longer than the lock timeout.*raise --lock-timeout/);
    assert.equal(restoreProblem({ exitCode: 3, stderr: "ERROR:  relation \"x\" already exists\n" }), 'ERROR:  relation "x" already exists');
    assert.equal(restoreProblem({ exitCode: 2, stderr: "" }), "exit 2");
  });

  it("builds the backup verb's command line for the Pulumi command resource", () => {
    const argv = backupVerb({ stack: "production", dbContainer: "slipway-production-db", dir: "/var/backups/slipway", keep: 14, imageTag: "3f2a9c1" });
    assert.equal(
      shellJoin(argv),
      "node --import tsx src/cli/backup.ts --stack production --db-container slipway-production-db --dir /var/backups/slipway --keep 14 --image-tag 3f2a9c1",
    );
    assert.deepEqual(backupVerb({ stack: "s", dbContainer: "c", dir: "/d" }).slice(4), ["--stack", "s", "--db-container", "c", "--dir", "/d"]);
    assert.deepEqual(backupVerb({ stack: "s", dbContainer: "c", dir: "/d", keep: 3, maxAgeDays: 30, verify: true, copyTo: "sftp:b" }).slice(10), ["--keep", "3", "--max-age-days", "30", "--verify", "--copy-to", "sftp:b"]);
    assert.deepEqual(backupVerb({ stack: "s", dbContainer: "c", dir: "/d", pushgateway: "s-pushgateway" }).slice(10), ["--pushgateway", "s-pushgateway"]);
  });

  it("quotes shell words that need it", () => {
    assert.equal(shellJoin(["a", "b c", "it's", "", "$HOME"]), `a 'b c' 'it'\\''s' '' '$HOME'`);
  });
});
