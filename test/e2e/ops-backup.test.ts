// backup() and restore() against a real PostgreSQL container: round trip, files it leaves (private),
// retention by count, age, weekly spread and the newest verified dump, stale .partial files, disk full, pg_dump failure, unknown container.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { createHash } from "node:crypto";
import { backup } from "../../src/backup/backup";
import { checkArchiveWhileWriting } from "../../src/backup/archive-check";
import { connectDocker } from "../../src/docker";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { formatChecksumFile } from "../../src/backup/checksum";
import { VERIFIED_SUFFIX } from "../../src/backup/names";
import { formatRecord, type VerificationRecord } from "../../src/backup/proof-record";
import { OpsError } from "../../src/postgres/errors";
import { restore } from "../../src/restore/restore";
import { startPostgres, TestPostgres } from "../support/postgres";
import { missingRoot, skipUnless } from "../support/prerequisites";

const ITEMS = "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())";
const snapshot = (pg: TestPostgres) => pg.sql("SELECT count(*) || ':' || coalesce(string_agg(name, ',' ORDER BY id), '') FROM items");

describe("ops backup (real PostgreSQL)", { timeout: 180_000 }, () => {
  let pg: TestPostgres;
  let root: string;

  before(async () => {
    pg = await startPostgres({ prefix: "slipway-test-ops-backup" });
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-backup-"));
    await pg.sql(ITEMS);
    await pg.sql("INSERT INTO items (name) VALUES ('alpha'), ('beta'), ('gamma')");
  });
  after(async () => {
    await pg?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("round-trips: rows → backup → delete rows → restore → rows back", async () => {
    const dir = path.join(root, "roundtrip");
    const made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "abc1234", keep: 3 });
    assert.match(path.basename(made.file), /^staging-\d{8}T\d{6}Z-abc1234\.dump$/);
    assert.deepEqual((await fs.readdir(dir)).sort(), [path.basename(made.file), path.basename(made.checksumFile)]);
    // the checksum file is what `sha256sum -c` expects
    execFileSync("sha256sum", ["-c", "--quiet", path.basename(made.checksumFile)], { cwd: dir });
    assert.equal((await fs.stat(made.file)).size, made.bytes);

    await pg.sql("DELETE FROM items WHERE name <> 'alpha'");
    await pg.sql("INSERT INTO items (name) VALUES ('after-backup')");
    assert.equal(await snapshot(pg), "2:alpha,after-backup");

    await restore({ prefix: "staging", dbContainer: pg.name, production: false, file: made.file });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
    // sequences come back too: the next id follows the restored rows
    assert.equal(await pg.sql("INSERT INTO items (name) VALUES ('delta') RETURNING id"), "4");
    await pg.sql("DELETE FROM items WHERE name = 'delta'");
  });

  it("the archive is read to its end while it is written: a whole one passes, a cut or garbled one is corrupt-dump, and a reader that stops never stalls the writer", async () => {
    const dir = path.join(root, "stream-check");
    const made = await backup({ prefix: "stream", dbContainer: pg.name, dir, imageTag: "abc1234", keep: 1 });
    const whole = await fs.readFile(made.file);
    const docker = connectDocker();
    // What the dump's pipeline does: every chunk through the tap into a sink; the tap's result after the stream ended.
    const through = async (bytes: Buffer): Promise<{ written: number; verdict: unknown }> => {
      const check = checkArchiveWhileWriting(docker, pg.name, "the test stream");
      let written = 0;
      const sink = new Writable({ write: (c: Buffer, _e, done) => ((written += c.length), done()) });
      const chunks = Array.from({ length: Math.ceil(bytes.length / 16_384) }, (_, i) => bytes.subarray(i * 16_384, (i + 1) * 16_384));
      await pipeline(Readable.from(chunks), check.tap, sink);
      return { written, verdict: await check.result.then(() => undefined, (e: unknown) => e) };
    };
    const ok = await through(whole);
    assert.equal(ok.written, whole.length, "every byte reached the file");
    assert.equal(ok.verdict, undefined, "a whole archive passes");
    const cut = await through(whole.subarray(0, Math.floor(whole.length * 0.6)));
    assert.ok(cut.verdict instanceof OpsError && cut.verdict.kind === "corrupt-dump", `a cut archive: ${String(cut.verdict)}`);
    // Garbage from the first byte: pg_restore exits at once; 4 MB more still reach the file (nothing waits on it).
    const garbage = await through(Buffer.concat([Buffer.from("not a dump\n"), Buffer.alloc(4 * 2 ** 20, 7)]));
    assert.equal(garbage.written, 4 * 2 ** 20 + 11);
    assert.ok(garbage.verdict instanceof OpsError && garbage.verdict.kind === "corrupt-dump", `garbage: ${String(garbage.verdict)}`);
  });

  it("keeps the N newest backups of the stack and nothing of other stacks", async () => {
    const dir = path.join(root, "retention");
    await fs.mkdir(dir, { mode: 0o700 });
    const foreign = ["production-20200101T000000Z-old.dump", "production-20200101T000000Z-old.dump.sha256", "notes.txt", "staging-20200101T000000Z-x.dump.partial"];
    for (const f of foreign) await fs.writeFile(path.join(dir, f), "not ours");
    const made = [];
    for (let day = 1; day <= 4; day++) {
      made.push(await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: `t${day}`, keep: 2, now: new Date(`2026-11-0${day}T12:00:00Z`) }));
    }
    assert.deepEqual(made[2].deleted, [made[0].file]);
    assert.deepEqual(made[3].deleted, [made[1].file]);
    const kept = [made[2], made[3]].flatMap((m) => [path.basename(m.file), path.basename(m.checksumFile)]);
    assert.deepEqual((await fs.readdir(dir)).sort(), [...foreign, ...kept].sort());
  });

  it("writes dumps and checksums 0600 into a directory it creates 0700, and refuses one open to others", async () => {
    const dir = path.join(root, "private", "nested");
    const made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "modes" });
    const mode = async (p: string) => ((await fs.stat(p)).mode & 0o777).toString(8);
    assert.equal(await mode(dir), "700");
    assert.equal(await mode(made.file), "600");
    assert.equal(await mode(made.checksumFile), "600");

    const open = path.join(root, "open");
    await fs.mkdir(open, { mode: 0o755 });
    await fs.chmod(open, 0o755);
    await assert.rejects(backup({ prefix: "staging", dbContainer: pg.name, dir: open }), (err: Error) => {
      assert.ok(err instanceof OpsError && err.kind === "unsafe-dir", String(err));
      assert.match(err.message, new RegExp(`backup directory ${open} is open to other users \\(mode 0755\\).*chmod 700 ${open}`));
      return true;
    });
    assert.deepEqual(await fs.readdir(open), [], "nothing written into it");
  });

  it("makes this stack's older files private when it runs (dumps written before files were 0600)", async () => {
    const dir = path.join(root, "tighten");
    await fs.mkdir(dir, { mode: 0o700 });
    const old = path.join(dir, "staging-20200101T000000Z-old.dump");
    const theirs = path.join(dir, "qa-20200101T000000Z-old.dump");
    for (const f of [old, `${old}.sha256`, theirs]) {
      await fs.writeFile(f, "x");
      await fs.chmod(f, 0o644);
    }
    await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "t", keep: 5 });
    assert.equal((await fs.stat(old)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(`${old}.sha256`)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(theirs)).mode & 0o777, 0o644, "another stack's file is not ours to change");
  });

  it("deletes backups older than maxAgeDays beside the count limit, with their companions", async () => {
    const dir = path.join(root, "age");
    await fs.mkdir(dir, { mode: 0o700 });
    const now = new Date("2026-11-30T12:00:00Z");
    const old = ["staging-20261101T120000Z-a.dump", "staging-20261120T120000Z-b.dump", "staging-20261129T120000Z-c.dump"];
    for (const f of old) for (const g of [f, `${f}.sha256`, `${f}.verified.json`]) await fs.writeFile(path.join(dir, g), "x", { mode: 0o600 });
    const made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "now", keep: 10, maxAgeDays: 7, now });
    assert.deepEqual(made.deleted, [path.join(dir, old[0]), path.join(dir, old[1])]);
    assert.deepEqual((await fs.readdir(dir)).sort(), [old[2], `${old[2]}.sha256`, `${old[2]}.verified.json`, path.basename(made.file), path.basename(made.checksumFile)].sort());
    // the backup just taken survives even an age limit its own timestamp would fail (a clock set wrong)
    const past = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "past", keep: 10, maxAgeDays: 1, now: new Date("2026-01-01T00:00:00Z") });
    assert.ok(!past.deleted.includes(past.file));
    await fs.access(past.file);
  });

  it("never rotates out the newest verified dump (its record read from disk), and keeps the newest of each recent week", async () => {
    const dir = path.join(root, "spread");
    await fs.mkdir(dir, { mode: 0o700 });
    const now = new Date("2026-11-30T12:00:00Z");
    const write = async (name: string, proof?: { ok: boolean; sha256?: string }) => {
      const bytes = `dump ${name}`;
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      await fs.writeFile(path.join(dir, name), bytes, { mode: 0o600 });
      await fs.writeFile(path.join(dir, `${name}.sha256`), formatChecksumFile(sha256, name), { mode: 0o600 });
      if (proof) {
        const record = { version: 1, dump: name, sha256: proof.sha256 ?? sha256, ok: proof.ok, verifiedAt: now.toISOString(), image: "i", imageName: "n", sourceCounts: {}, restoredCounts: {}, problems: [], restoreSeconds: 1, seconds: 1 } satisfies VerificationRecord;
        await fs.writeFile(path.join(dir, `${name}${VERIFIED_SUFFIX}`), formatRecord(record), { mode: 0o600 });
      }
    };
    const good = "staging-20260901T120000Z-good.dump"; // proven, months old
    const failed = "staging-20261001T120000Z-failed.dump"; // its proof failed
    const forged = "staging-20261002T120000Z-forged.dump"; // a record that vouches for other bytes
    const lastWeek = "staging-20261120T120000Z-lastweek.dump"; // in the week before this one
    const today = ["staging-20261130T080000Z-a.dump", "staging-20261130T090000Z-b.dump"];
    await write(good, { ok: true });
    await write(failed, { ok: false });
    await write(forged, { ok: true, sha256: "0".repeat(64) });
    for (const f of [lastWeek, ...today]) await write(f);
    // keep 1, 0 weeks, 30 days: everything but the backup just taken would go — except the proven dump
    const made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "now", keep: 1, keepWeeks: 0, maxAgeDays: 30, now });
    const deleted = made.deleted.map((f) => path.basename(f));
    assert.deepEqual(deleted.sort(), [failed, forged, lastWeek, ...today].sort());
    await fs.access(path.join(dir, good));
    // with weeks: the next quick backups keep the newest of the week before, not only the N newest
    await write(lastWeek);
    const again = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "again", keep: 1, keepWeeks: 2, now: new Date(now.getTime() + 60_000) });
    assert.ok(!again.deleted.map((f) => path.basename(f)).includes(lastWeek), "last week's newest is kept");
    assert.deepEqual(again.deleted.map((f) => path.basename(f)), [path.basename(made.file)], "the previous quick backup is not");
    await fs.access(path.join(dir, good));
  });

  it("removes this stack's stale .partial files, not a fresh one nor another stack's", async () => {
    const dir = path.join(root, "stale");
    await fs.mkdir(dir, { mode: 0o700 });
    const hourAgo = new Date(Date.now() - 3_600_000);
    const stale = ["staging-20261122T030000Z-killed.dump.partial", "staging-20261122T030000Z-killed.dump.sha256.partial"];
    const kept = ["staging-20261122T040000Z-running.dump.partial", "qa-20261122T030000Z-killed.dump.partial"];
    for (const f of [...stale, ...kept]) await fs.writeFile(path.join(dir, f), "x", { mode: 0o600 });
    for (const f of [...stale, kept[1]]) await fs.utimes(path.join(dir, f), hourAgo, hourAgo);
    const made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "next" });
    assert.deepEqual(made.removedPartials.sort(), stale.map((f) => path.join(dir, f)).sort());
    assert.deepEqual((await fs.readdir(dir)).sort(), [...kept, path.basename(made.file), path.basename(made.checksumFile)].sort());
  });

  it("takes over the name of a stale .partial left by a killed run in the same second", async () => {
    const dir = path.join(root, "stale-same");
    await fs.mkdir(dir, { mode: 0o700 });
    const now = new Date("2026-11-22T05:00:00Z");
    const leftover = path.join(dir, "staging-20261122T050000Z-same.dump.partial");
    await fs.writeFile(leftover, "half a dump", { mode: 0o600 });
    const hourAgo = new Date(Date.now() - 3_600_000);
    await fs.utimes(leftover, hourAgo, hourAgo);
    const made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "same", now });
    assert.equal(made.file, leftover.replace(/\.partial$/, ""));
    execFileSync("sha256sum", ["-c", "--quiet", path.basename(made.checksumFile)], { cwd: dir });
  });

  it("fails clearly on a full disk and leaves no .dump behind", { skip: skipUnless(missingRoot("mount a tmpfs")) }, async () => {
    await pg.sql("CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS junk FROM generate_series(1, 20000) g");
    const dir = path.join(root, "tiny");
    await fs.mkdir(dir);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir]);
    try {
      await assert.rejects(backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "full" }), (err: Error) => {
        assert.ok(err instanceof OpsError, String(err));
        assert.equal(err.kind, "disk-full");
        assert.match(err.message, new RegExp(`no space left in ${dir}.*pass another --dir`));
        return true;
      });
      assert.deepEqual(await fs.readdir(dir), []);
    } finally {
      execFileSync("umount", [dir]);
      await pg.sql("DROP TABLE filler");
    }
  });

  it("fails when pg_dump fails and leaves nothing", async () => {
    const dir = path.join(root, "dumpfail");
    await assert.rejects(backup({ prefix: "staging", dbContainer: pg.name, dir, database: "no_such_db" }), (err: Error) => {
      assert.ok(err instanceof OpsError && err.kind === "dump-failed", String(err));
      assert.match(err.message, /pg_dump of database 'no_such_db' in container .* failed.*no_such_db/s);
      return true;
    });
    assert.deepEqual(await fs.readdir(dir), []);
  });

  it("leaves another backup's .partial alone and says so", async () => {
    const dir = path.join(root, "concurrent");
    await fs.mkdir(dir, { mode: 0o700 });
    const now = new Date("2026-11-22T03:00:00Z");
    const theirs = path.join(dir, "staging-20261122T030000Z-same.dump.partial");
    await fs.writeFile(theirs, "someone else's dump in progress");
    await assert.rejects(backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "same", now }), (err: Error) => {
      assert.ok(err instanceof OpsError && err.kind === "already-exists", String(err));
      assert.match(err.message, /another backup of stack 'staging' is running/);
      return true;
    });
    assert.deepEqual(await fs.readdir(dir), [path.basename(theirs)]);
    assert.equal(await fs.readFile(theirs, "utf8"), "someone else's dump in progress");
  });

  it("names an unknown container and says how to find the right one", async () => {
    await assert.rejects(backup({ prefix: "staging", dbContainer: "slipway-no-such-container", dir: path.join(root, "nocontainer") }), (err: Error) => {
      assert.ok(err instanceof OpsError && err.kind === "container-not-found", String(err));
      assert.match(err.message, /'slipway-no-such-container' not found.*docker ps.*--db-container/);
      return true;
    });
  });
});
