// Unit tests for the pure decisions of a point-in-time restore (src/restore/pitr-plan.ts) and the archiving
// declarations they pair with (src/backup/wal.ts, stacks/schema.ts backup.wal).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseTargetTime, pgTime, recoveryEnd, recoveryWindow, restoreArgs, targetProblem } from "../../src/restore/pitr-plan";
import { archivingCommand, knownHostsLine, OFF_HOST_BACKUP_ARGS, pgbackrestEnv, WAL_SFTP_KEY_FILE, WAL_SFTP_KNOWN_HOSTS_FILE } from "../../src/backup/wal";
import { walSchema } from "../../stacks/schema";

test("--to-time: ISO 8601 with a zone; a zone-less or invalid time is refused, never guessed", () => {
  assert.deepEqual(parseTargetTime("2026-12-05T14:03:00Z"), new Date("2026-12-05T14:03:00Z"));
  assert.deepEqual(parseTargetTime("2026-12-05T15:03:00.250+01:00"), new Date("2026-12-05T14:03:00.250Z"));
  assert.deepEqual(parseTargetTime("2026-12-05 15:03:00+01"), new Date("2026-12-05T14:03:00Z"));
  assert.match((parseTargetTime("2026-12-05T14:03:00") as { problem: string }).problem, /not an ISO 8601 time with a zone/);
  assert.match((parseTargetTime("yesterday") as { problem: string }).problem, /not an ISO 8601 time with a zone/);
  assert.match((parseTargetTime("2026-13-45T14:03:00Z") as { problem: string }).problem, /not a valid time/);
});

const info = (backups: unknown[]) => JSON.stringify([{ name: "slipway-production", backup: backups, status: { code: 0, message: "ok" } }]);

test("the recovery window runs from the end of the oldest good base backup to now", () => {
  const now = new Date("2026-12-05T15:00:00Z");
  const w = recoveryWindow(
    info([
      { label: "20261205-120000F", timestamp: { start: Date.parse("2026-12-05T12:00:00Z") / 1000, stop: Date.parse("2026-12-05T12:00:10Z") / 1000 } },
      { label: "20261205-100000F", error: true, timestamp: { start: Date.parse("2026-12-05T10:00:00Z") / 1000, stop: Date.parse("2026-12-05T10:00:10Z") / 1000 } },
      { label: "20261205-120000F_20261205-140000D", timestamp: { start: Date.parse("2026-12-05T14:00:00Z") / 1000, stop: Date.parse("2026-12-05T14:00:05Z") / 1000 } },
    ]),
    now,
  );
  assert.deepEqual(w, { from: new Date("2026-12-05T12:00:10Z"), to: now, oldest: "20261205-120000F", backups: 2 });
  assert.match((recoveryWindow(info([]), now) as { problem: string }).problem, /no base backup yet/);
  assert.match((recoveryWindow("[]", now) as { problem: string }).problem, /no stanza yet/);
  assert.match((recoveryWindow("ERROR: [055]", now) as { problem: string }).problem, /did not answer JSON/);
});

test("a time outside the window is refused, naming the window; --to-latest needs no time", () => {
  const window = { from: new Date("2026-12-05T12:00:10Z"), to: new Date("2026-12-05T15:00:00Z"), oldest: "20261205-120000F", backups: 2 };
  assert.equal(targetProblem({ kind: "time", time: new Date("2026-12-05T14:03:00Z") }, window, "production"), undefined);
  assert.equal(targetProblem({ kind: "latest" }, window, "production"), undefined);
  for (const time of ["2026-12-05T12:00:09Z", "2026-12-05T15:00:01Z"]) {
    assert.equal(
      targetProblem({ kind: "time", time: new Date(time) }, window, "production"),
      `--to-time ${new Date(time).toISOString()} is outside the recovery window of stack 'production': 2026-12-05T12:00:10.000Z (end of the oldest base backup, 20261205-120000F) to 2026-12-05T15:00:00.000Z (now); 2 base backup(s) kept`,
    );
  }
});

test("pgbackrest restore arguments: delta, to a time then promote, or to the end of the archive", () => {
  assert.equal(pgTime(new Date("2026-12-05T14:03:00.123Z")), "2026-12-05 14:03:00.123+00");
  assert.deepEqual(restoreArgs({ kind: "time", time: new Date("2026-12-05T14:03:00Z") }), ["restore", "--delta", "--type=time", "--target=2026-12-05 14:03:00.000+00", "--target-action=promote"]);
  assert.deepEqual(restoreArgs({ kind: "latest" }), ["restore", "--delta", "--type=default"]);
});

test("where the replay ended: the last recovery's last committed transaction and its new timeline, from PostgreSQL's log", () => {
  const log = [
    "2026-12-05 18:39:40.1 UTC [29] LOG:  last completed transaction was at log time 2026-12-05 18:39:33.100+00",
    "2026-12-05 18:39:40.2 UTC [29] LOG:  selected new timeline ID: 2",
    "2026-12-05 18:51:50.7 UTC [31] LOG:  redo done at 0/7000F20 system usage: CPU: user: 0.01 s",
    "2026-12-05 18:51:50.7 UTC [31] LOG:  last completed transaction was at log time 2026-12-05 18:51:02.412345+00",
    "2026-12-05 18:51:50.8 UTC [31] LOG:  selected new timeline ID: 3",
  ].join("\n");
  assert.equal(recoveryEnd(log), "last transaction replayed committed at 2026-12-05 18:51:02.412345+00; promoted onto timeline 3");
  assert.equal(recoveryEnd("LOG:  database system is ready to accept connections"), "no committed transaction replayed (PostgreSQL logged none)");
});

test("backup.wal: off by default (one default each); the container archives through pgBackRest with the stack's settings", () => {
  assert.deepEqual(walSchema.parse({}), { enabled: false, archiveTimeoutSeconds: 60, keepFull: 2 });
  assert.equal(walSchema.safeParse({ enabled: true, archiveTimeoutSeconds: 1 }).success, false);
  const wal = walSchema.parse({ enabled: true, archiveTimeoutSeconds: 30, keepFull: 3 });
  assert.deepEqual(archivingCommand(wal), ["postgres", "-c", "archive_mode=on", "-c", "archive_command=pgbackrest archive-push %p", "-c", "archive_timeout=30"]);
  const env = pgbackrestEnv({ prefix: "slipway-production", dbUser: "app", wal });
  assert.ok(env.includes("PGBACKREST_STANZA=slipway-production"));
  assert.ok(env.includes("PGBACKREST_PG1_USER=app"));
  assert.ok(env.includes("PGBACKREST_REPO1_RETENTION_FULL=3"));
  assert.ok(env.includes("PGBACKREST_REPO1_PATH=/var/lib/pgbackrest"));
});

test("backup.wal.offHost: an SFTP repo2 with its key and known host as files, its own retention; bad values named by key", () => {
  const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5";
  const wal = walSchema.parse({ enabled: true, offHost: { host: "backup.example.com", user: "pgbackup", path: "/srv/pgbackrest", hostKey } });
  assert.deepEqual(wal.offHost, { host: "backup.example.com", port: 22, user: "pgbackup", path: "/srv/pgbackrest", hostKey });
  const env = pgbackrestEnv({ prefix: "slipway-production", dbUser: "app", wal });
  for (const e of [
    "PGBACKREST_REPO2_TYPE=sftp", "PGBACKREST_REPO2_PATH=/srv/pgbackrest", "PGBACKREST_REPO2_SFTP_HOST=backup.example.com", "PGBACKREST_REPO2_SFTP_HOST_PORT=22",
    "PGBACKREST_REPO2_SFTP_HOST_USER=pgbackup", `PGBACKREST_REPO2_SFTP_PRIVATE_KEY_FILE=${WAL_SFTP_KEY_FILE}`, `PGBACKREST_REPO2_SFTP_KNOWN_HOST=${WAL_SFTP_KNOWN_HOSTS_FILE}`,
    "PGBACKREST_REPO2_SFTP_HOST_KEY_CHECK_TYPE=strict", "PGBACKREST_REPO2_SFTP_HOST_KEY_HASH_TYPE=sha256", "PGBACKREST_REPO2_RETENTION_FULL=2",
  ]) assert.ok(env.includes(e), e);
  assert.ok(!env.some((e) => /KEY=|PASSPHRASE/.test(e) && !e.includes("_FILE=") && !e.includes("CHECK_TYPE")), "no key in the environment");
  assert.ok(pgbackrestEnv({ prefix: "p", dbUser: "app", wal: { ...wal, offHost: { ...wal.offHost!, keepFull: 7 } } }).includes("PGBACKREST_REPO2_RETENTION_FULL=7"));
  assert.ok(!pgbackrestEnv({ prefix: "p", dbUser: "app", wal: walSchema.parse({ enabled: true }) }).some((e) => e.startsWith("PGBACKREST_REPO2")), "no repo2 without offHost");
  assert.equal(knownHostsLine({ host: "10.0.0.5", port: 22, hostKey }), `10.0.0.5 ${hostKey}\n`);
  assert.equal(knownHostsLine({ host: "10.0.0.5", port: 2222, hostKey }), `[10.0.0.5]:2222 ${hostKey}\n`);
  assert.deepEqual(OFF_HOST_BACKUP_ARGS, ["backup", "--type=diff", "--repo=2"]);
  const bad = (offHost: Record<string, unknown>) => walSchema.safeParse({ enabled: true, offHost: { host: "h", user: "u", path: "/p", hostKey, ...offHost } }).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") ?? "";
  assert.match(bad({ hostKey: "AAAAC3Nz" }), /offHost\.hostKey: must be a public host key/);
  assert.match(bad({ path: "relative/dir" }), /offHost\.path: must be an absolute path/);
  assert.match(bad({ host: "h; rm -rf /" }), /offHost\.host: must be a host name or an IP address/);
  assert.match(bad({ port: 0 }), /offHost\.port/);
  assert.match(bad({ password: "x" }), /offHost: Unrecognized key/i);
});
