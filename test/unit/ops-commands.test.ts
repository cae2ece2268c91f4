// Exact command lines for backup and restore.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupVerb, dockerExec, shellJoin, pgDump, pgRestore, pgRestoreReadAll } from "../../src/ops/commands";

const db = { database: "slipway", user: "slipway" };

describe("ops commands", () => {
  it("dumps in custom format to stdout", () => {
    assert.deepEqual(pgDump(db), ["pg_dump", "--format=custom", "--username", "slipway", "--dbname", "slipway"]);
    assert.deepEqual(dockerExec("prod-db", pgDump(db)), ["docker", "exec", "prod-db", "pg_dump", "--format=custom", "--username", "slipway", "--dbname", "slipway"]);
  });

  it("reads whole archives from stdin", () => {
    assert.deepEqual(pgRestoreReadAll(), ["pg_restore", "--file=/dev/null"]);
    assert.deepEqual(dockerExec("db", pgRestoreReadAll(), { stdin: true }), ["docker", "exec", "-i", "db", "pg_restore", "--file=/dev/null"]);
  });

  it("restores in one transaction, stopping at the first error", () => {
    assert.deepEqual(pgRestore(db), [
      "pg_restore",
      "--single-transaction",
      "--exit-on-error",
      "--clean",
      "--if-exists",
      "--no-owner",
      "--no-privileges",
      "--username",
      "slipway",
      "--dbname",
      "slipway",
    ]);
  });

  it("builds the backup verb's command line for the Pulumi command resource", () => {
    const argv = backupVerb({ stack: "production", dbContainer: "slipway-production-db", dir: "/var/backups/slipway", keep: 14, imageTag: "3f2a9c1" });
    assert.equal(
      shellJoin(argv),
      "node --import tsx src/cli/backup.ts --stack production --db-container slipway-production-db --dir /var/backups/slipway --keep 14 --image-tag 3f2a9c1",
    );
    assert.deepEqual(backupVerb({ stack: "s", dbContainer: "c", dir: "/d" }).slice(4), ["--stack", "s", "--db-container", "c", "--dir", "/d"]);
    assert.deepEqual(backupVerb({ stack: "s", dbContainer: "c", dir: "/d", keep: 3, maxAgeDays: 30, verify: true, copyTo: "sftp:b" }).slice(10), ["--keep", "3", "--max-age-days", "30", "--verify", "--copy-to", "sftp:b"]);
  });

  it("quotes shell words that need it", () => {
    assert.equal(shellJoin(["a", "b c", "it's", "", "$HOME"]), `a 'b c' 'it'\\''s' '' '$HOME'`);
  });
});
