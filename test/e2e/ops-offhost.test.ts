// Off-host copies through a real SFTP server started here (OpenSSH sshd on 127.0.0.1, keys made by the
// test) with the real rclone, configured only by environment variables; the verbs run as processes
// against a real PostgreSQL. Round trip: backup --verify --copy-to → delete the local backups →
// restore --from → the rows are back. Also: a damaged remote copy is refused, an unreachable remote
// fails the backup (the local one stays), a copy without its record is refused in production.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startPostgres, TestPostgres } from "../support/postgres";
import { skipUnless } from "../support/prerequisites";
import { sftpMissing, SftpServer, startSftpServer } from "../support/sftp";

const repo = path.resolve(__dirname, "../..");
const sha = async (file: string) => createHash("sha256").update(await fs.readFile(file)).digest("hex");

describe("off-host copies over SFTP with rclone (real sshd, real PostgreSQL)", { skip: skipUnless(sftpMissing()), timeout: 900_000 }, () => {
  let pg: TestPostgres;
  let sftp: SftpServer;
  let root: string;
  let remoteDir: string;

  const verb = (name: "backup" | "restore", args: string[], env: Record<string, string> = sftp.env) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", `src/cli/${name}.ts`, ...args], { cwd: repo, env: { ...process.env, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const rows = () => pg.sql("SELECT count(*) || ':' || string_agg(name, ',' ORDER BY id) FROM items");

  before(async () => {
    pg = await startPostgres({ prefix: "slipway-test-ops-offhost" });
    sftp = await startSftpServer();
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-offhost-"));
    remoteDir = path.join(sftp.root, "backups", "slipway");
    await pg.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)");
    await pg.sql("INSERT INTO items (name) VALUES ('alpha'), ('beta'), ('gamma')");
    await pg.sql("CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS junk FROM generate_series(1, 20000) g");
  });
  after(async () => {
    await pg?.stop();
    await sftp?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("round trip: backup --verify --copy-to → local copies deleted → restore --from → the rows are back", async () => {
    const local = path.join(root, "local");
    const copyTo = `${sftp.remote}:${remoteDir}`;
    const b = verb("backup", ["--stack", "slipway-production", "--db-container", pg.name, "--dir", local, "--verify", "--copy-to", copyTo, "--image-tag", "rt"]);
    assert.equal(b.code, 0, `${b.stderr}\n--- sshd:\n${sftp.log()}`);
    const file = b.stdout.trim();
    const name = path.basename(file);
    for (const f of [name, `${name}.verified.json`, `${name}.sha256`]) {
      assert.match(b.stderr, new RegExp(`copied ${f.replace(/\./g, "\\.")} to ${sftp.remote}:`));
      assert.equal(await sha(path.join(remoteDir, f)), await sha(path.join(local, f)), `${f}: the remote copy has the same bytes`);
    }
    assert.ok(sftp.log().includes("Accepted publickey"), "rclone logged in over SSH with the test's key");

    await fs.rm(local, { recursive: true });
    await pg.sql("DELETE FROM items WHERE name <> 'alpha'; INSERT INTO items (name) VALUES ('after-backup')");
    assert.equal(await rows(), "2:alpha,after-backup");

    const fetched = path.join(root, "fetched");
    // production, with --yes: the record travelled with the dump, so no --force is needed
    const r = verb("restore", ["--stack", "slipway-production", "--db-container", pg.name, "--environment", "production", "--yes", "--from", `${copyTo}/${name}`, "--dir", fetched]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`fetched ${name.replace(/\./g, "\\.")} \\(checksum ok\\)`));
    assert.doesNotMatch(r.stderr, /warning/);
    assert.equal(await rows(), "3:alpha,beta,gamma");
    assert.equal(await pg.sql("SELECT count(*) FROM filler"), "20000");
    // --dir holds what was fetched and the safety dump of the data the restore replaced (with its checksum), kept
    const safety = (await fs.readdir(fetched)).filter((f) => /-pre-restore\.dump$/.test(f));
    assert.equal(safety.length, 1, "one safety dump of the replaced data");
    assert.deepEqual((await fs.readdir(fetched)).sort(), [name, `${name}.sha256`, `${name}.verified.json`, safety[0]!, `${safety[0]!}.sha256`].sort());
    for (const f of await fs.readdir(fetched)) assert.equal((await fs.stat(path.join(fetched, f))).mode & 0o777, 0o600, f);
    assert.equal((await fs.stat(fetched)).mode & 0o777, 0o700);
  });

  it("refuses a damaged remote copy, keeps nothing of it, and leaves the data alone", async () => {
    const [name] = (await fs.readdir(remoteDir)).filter((f) => f.endsWith(".dump"));
    const bytes = await fs.readFile(path.join(remoteDir, name));
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await fs.writeFile(path.join(remoteDir, name), bytes);
    await pg.sql("INSERT INTO items (name) VALUES ('live')");
    const before = await rows();
    const into = path.join(root, "damaged");
    const r = verb("restore", ["--stack", "slipway-production", "--db-container", pg.name, "--environment", "staging", "--from", `${sftp.remote}:${remoteDir}/${name}`, "--dir", into]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /restore failed: the copy of .*\.dump fetched from .* does not match its checksum .*the remote copy is damaged or incomplete; nothing was kept/);
    assert.deepEqual(await fs.readdir(into), [], "no .dump, no .partial left");
    assert.equal(await rows(), before);
  });

  it("names a backup the remote does not have, and a --from that is not a backup", () => {
    const missing = verb("restore", ["--stack", "s", "--db-container", pg.name, "--environment", "staging", "--from", `${sftp.remote}:${remoteDir}/s-20200101T000000Z-x.dump`, "--dir", path.join(root, "missing")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /s-20200101T000000Z-x\.dump does not exist; list the remote with: rclone lsf slipwaysftp:/);
    const notDump = verb("restore", ["--stack", "s", "--db-container", pg.name, "--environment", "staging", "--from", `${sftp.remote}:${remoteDir}/notes.txt`, "--dir", path.join(root, "missing")]);
    assert.equal(notDump.code, 1);
    assert.match(notDump.stderr, /'notes\.txt' is not a backup's name/);
    const both = verb("restore", ["--stack", "s", "--db-container", pg.name, "--environment", "staging", "--from", "x", "--file", "y"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give exactly one of --file <path>, --from <remote>, --to-time <ISO time> and --to-latest/);
  });

  it("an unverified copy comes back unverified: production refuses it without --force", async () => {
    const local = path.join(root, "unverified");
    const copyTo = `${sftp.remote}:${path.join(sftp.root, "plain")}`;
    const b = verb("backup", ["--stack", "qa", "--db-container", pg.name, "--dir", local, "--copy-to", copyTo, "--image-tag", "plain"]);
    assert.equal(b.code, 0, b.stderr);
    const name = path.basename(b.stdout.trim());
    assert.deepEqual((await fs.readdir(path.join(sftp.root, "plain"))).sort(), [name, `${name}.sha256`], "dump and checksum, no record");
    const r = verb("restore", ["--stack", "qa", "--db-container", pg.name, "--environment", "production", "--yes", "--from", `${copyTo}/${name}`, "--dir", path.join(root, "unverified-fetched")]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /never verified by a restore: it has no verification record/);
  });

  it("fails the backup when the remote cannot be reached, keeping the local backup and the older ones", async () => {
    const local = path.join(root, "unreachable");
    await fs.mkdir(local, { mode: 0o700 });
    const older = "qa-20200101T000000Z-old.dump";
    await fs.writeFile(path.join(local, older), "older", { mode: 0o600 });
    const down = { ...sftp.env, RCLONE_CONFIG_SLIPWAYSFTP_PORT: "1", RCLONE_CONTIMEOUT: "5s", RCLONE_LOW_LEVEL_RETRIES: "1", RCLONE_RETRIES: "1" };
    const b = verb("backup", ["--stack", "qa", "--db-container", pg.name, "--dir", local, "--keep", "1", "--copy-to", `${sftp.remote}:${remoteDir}`, "--image-tag", "down"], down);
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /backup failed: copying qa-\d{8}T\d{6}Z-down\.dump to slipwaysftp:.* failed; the backup itself is fine at .*-down\.dump\. rclone copyto .* failed \(exit \d+\): .*(connection refused|couldn't connect)/is);
    const names = (await fs.readdir(local)).sort();
    assert.ok(names.includes(older), "retention did not run");
    assert.ok(names.some((n) => n.endsWith("-down.dump")), "the local backup stays");
  });

  it("never echoes a credential: rclone quotes a connection string's password in its error, the verb masks it", async () => {
    const local = path.join(root, "secret-remote");
    const obscured = spawnSync("rclone", ["obscure", "hunter2-not-a-real-one"], { encoding: "utf8" }).stdout.trim();
    assert.ok(obscured.length > 8, "rclone obscure");
    const copyTo = `:sftp,host=127.0.0.1,port=1,user=backup,pass=${obscured}:${remoteDir}`;
    const b = verb("backup", ["--stack", "qa", "--db-container", pg.name, "--dir", local, "--copy-to", copyTo, "--image-tag", "secret"], { ...sftp.env, RCLONE_CONTIMEOUT: "5s", RCLONE_LOW_LEVEL_RETRIES: "1", RCLONE_RETRIES: "1" });
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /rclone copyto .* failed \(exit \d+\): .*pass=\*\*\*/is, "rclone's own message, with the password masked");
    assert.ok(!b.stderr.includes(obscured) && !b.stdout.includes(obscured), "the obscured password (reversible) appears nowhere in the output");
  });
});
