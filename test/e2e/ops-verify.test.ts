// Backups proven by restore, against a real PostgreSQL: `backup --verify` restores the dump into a
// throwaway PostgreSQL of the same image and compares every table's rows with the counts taken in
// pg_dump's own snapshot; the record beside the dump; what restore does with verified, unverified
// and failed dumps; the throwaway container is gone afterwards — after success, failure, SIGTERM, and
// (by the next verification) SIGKILL.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup, BackupResult, verifyAndRecord } from "../../src/backup/backup";
import { formatChecksumFile } from "../../src/backup/checksum";
import { OpsError } from "../../src/postgres/errors";
import { THROWAWAY_REMOVE_TIMEOUT_MS } from "../../src/postgres/throwaway";
import { restore } from "../../src/restore/restore";
import { parseRecord, VerificationRecord } from "../../src/backup/proof-record";
import { startPostgres, TestPostgres } from "../support/postgres";

const repo = path.resolve(__dirname, "../..");
const SCHEMA = [
  "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)",
  "INSERT INTO items (name) SELECT 'item-' || g FROM generate_series(1, 3) g",
  'CREATE SCHEMA "Odd Schema"',
  'CREATE TABLE "Odd Schema"."Mixed.Case" (v int)',
  'INSERT INTO "Odd Schema"."Mixed.Case" SELECT g FROM generate_series(1, 7) g',
  "CREATE TABLE empty (x int)",
  "CREATE UNLOGGED TABLE scratch AS SELECT g AS x FROM generate_series(1, 11) g",
  "CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at)",
  "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
  "CREATE TABLE events_2027 PARTITION OF events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')",
  "INSERT INTO events SELECT g, DATE '2026-06-01' + (g % 400) FROM generate_series(1, 1000) g",
  "CREATE MATERIALIZED VIEW item_names AS SELECT name FROM items",
  "CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS junk FROM generate_series(1, 150000) g",
];

/** Throwaway verification containers still present (any state), optionally those of one dump. */
/** This process's throwaway containers: other e2e files run verifications of their own at the same time. */
async function verifyContainers(pg: TestPostgres, dump?: string): Promise<string[]> {
  const label = ["slipway.role=backup-verify", `slipway.verify.owner=${os.hostname()}/${process.pid}`, ...(dump ? [`slipway.verify.dump=${dump}`] : [])];
  return (await pg.docker.listContainers({ all: true, filters: { label } })).map((c) => c.Names[0]);
}

const readRecord = async (file: string): Promise<VerificationRecord> => parseRecord(await fs.readFile(`${file}.verified.json`, "utf8"))!;

describe("ops verify by restore (real PostgreSQL, throwaway containers)", { timeout: 900_000 }, () => {
  let pg: TestPostgres;
  let root: string;
  let good: BackupResult;

  before(async () => {
    pg = await startPostgres({ prefix: "slipway-test-ops-verify" });
    root = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-verify-"));
    for (const sql of SCHEMA) await pg.sql(sql);
  });
  after(async () => {
    await pg?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("restores the dump into a throwaway PostgreSQL of the same image and finds every table's rows", async () => {
    const dir = path.join(root, "good");
    const logs: string[] = [];
    good = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "good", verify: true, log: (l) => logs.push(l) });
    assert.equal(good.verificationFile, `${good.file}.verified.json`);
    assert.equal((await fs.stat(good.verificationFile!)).mode & 0o777, 0o600);
    const record = await readRecord(good.file);
    assert.deepEqual(record, good.verification);
    assert.equal(record.ok, true, record.problems.join("; "));
    assert.equal(record.dump, path.basename(good.file));
    assert.equal(record.sha256, good.sha256);
    assert.equal(record.image, (await pg.docker.getContainer(pg.name).inspect()).Image, "the database container's own image");
    const events2026 = Number(await pg.sql("SELECT count(*) FROM events_2026"));
    assert.ok(events2026 > 0 && events2026 < 1000);
    // every table with rows of its own, once: not the partitioned parent, not the materialized view
    assert.deepEqual(record.sourceCounts, {
      '"Odd Schema"."Mixed.Case"': 7,
      "public.empty": 0,
      "public.events_2026": events2026,
      "public.events_2027": 1000 - events2026,
      "public.filler": 150000,
      "public.items": 3,
      "public.scratch": 11,
    });
    assert.deepEqual(record.restoredCounts, record.sourceCounts);
    assert.match(logs.join("\n"), /starting throwaway PostgreSQL slipway-backup-verify-[0-9a-f]{12} \(image .*, no network\)/);
    assert.match(logs.join("\n"), /verified: restored into a throwaway database in [\d.]+ s, 7 table\(s\) with the same row counts/);
    // Removed before backup() returns: on a busy engine the removal is retried within its budget
    // (THROWAWAY_REMOVE_TIMEOUT_MS) until the engine no longer knows the container.
    assert.deepEqual(await verifyContainers(pg), [], `the throwaway container is removed (budget ${THROWAWAY_REMOVE_TIMEOUT_MS} ms)`);
  });

  it("counts in pg_dump's own snapshot: rows written during the backup are neither counted nor dumped", async () => {
    const dir = path.join(root, "writes");
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await pg.sql("INSERT INTO items (name) VALUES ('during')");
        written++;
      }
    })();
    const before = Number(await pg.sql("SELECT count(*) FROM items"));
    let made: BackupResult;
    try {
      made = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "writes", verify: true });
    } finally {
      writing = false;
      await writer;
    }
    const record = made.verification!;
    assert.equal(record.ok, true, record.problems.join("; "));
    const atDump = record.sourceCounts["public.items"];
    const afterwards = Number(await pg.sql("SELECT count(*) FROM items"));
    assert.ok(written >= 3, `the writer kept writing during the backup (${written} rows)`);
    assert.ok(atDump >= before && atDump < afterwards, `snapshot count ${atDump} between ${before} (before) and ${afterwards} (after)`);
    assert.equal(record.restoredCounts!["public.items"], atDump, "the dump holds exactly the rows counted");
    await pg.sql("DELETE FROM items WHERE name = 'during'");
  });

  it("fails verification for a corrupted dump, records why, and removes the throwaway container", async () => {
    const dir = path.join(root, "good");
    const name = path.basename(good.file).replace("-good.dump", "-corrupt.dump");
    const file = path.join(dir, name);
    const bytes = await fs.readFile(good.file);
    bytes.fill(0x5a, Math.floor(bytes.length * 0.6), Math.floor(bytes.length * 0.6) + 64); // inside filler's data
    await fs.writeFile(file, bytes, { mode: 0o600 });
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    await fs.writeFile(`${file}.sha256`, formatChecksumFile(sha256, name), { mode: 0o600 });

    await assert.rejects(
      verifyAndRecord({ docker: pg.docker, dbContainer: pg.name, db: pg.db, prefix: "staging", file, sha256, sourceCounts: good.verification!.sourceCounts }),
      (err: Error) => {
        assert.ok(err instanceof OpsError && err.kind === "verify-failed", String(err));
        assert.match(err.message, /verification of .*-corrupt\.dump FAILED — pg_restore into a fresh database failed: .*(compressed data|could not|error)/is);
        return true;
      },
    );
    const record = await readRecord(file);
    assert.equal(record.ok, false);
    assert.equal(record.restoredCounts, null);
    assert.deepEqual(await verifyContainers(pg), []);
  });

  it("fails verification when a table comes back with other row counts than at dump time", async () => {
    const sourceCounts = { ...good.verification!.sourceCounts, "public.items": 4, "public.gone": 1 };
    await assert.rejects(verifyAndRecord({ docker: pg.docker, dbContainer: pg.name, db: pg.db, prefix: "staging", file: good.file, sha256: good.sha256, sourceCounts }), /FAILED — table public\.gone \(1 rows at dump time\) is missing after the restore; table public\.items: 4 rows at dump time, 3 after the restore/);
    assert.equal((await readRecord(good.file)).ok, false);
    // put the good record back for the restore tests
    await verifyAndRecord({ docker: pg.docker, dbContainer: pg.name, db: pg.db, prefix: "staging", file: good.file, sha256: good.sha256, sourceCounts: good.verification!.sourceCounts });
    assert.equal((await readRecord(good.file)).ok, true);
  });

  it("fails the backup for a dump that reads back whole but does not restore, keeping it and the older backups", async () => {
    // The classic: a CHECK calling a function that reads another table unqualified. pg_restore runs with
    // search_path '' — the archive is fine (pg_restore reads it to the end), the restore is not.
    const db = await startPostgres({ prefix: "slipway-test-ops-verify-bad" });
    try {
      await db.sql("CREATE TABLE known (name text PRIMARY KEY); INSERT INTO known VALUES ('a')");
      await db.sql("CREATE FUNCTION is_known(text) RETURNS boolean LANGUAGE sql AS 'SELECT EXISTS (SELECT 1 FROM known WHERE name = $1)'");
      await db.sql("CREATE TABLE uses (name text CHECK (is_known(name))); INSERT INTO uses VALUES ('a')");
      const dir = path.join(root, "unrestorable");
      await fs.mkdir(dir, { mode: 0o700 });
      const older = "bad-20200101T000000Z-old.dump";
      await fs.writeFile(path.join(dir, older), "an older backup", { mode: 0o600 });
      await assert.rejects(backup({ prefix: "bad", dbContainer: db.name, dir, keep: 1, imageTag: "bad", verify: true }), (err: Error) => {
        assert.ok(err instanceof OpsError && err.kind === "verify-failed", String(err));
        assert.match(err.message, /FAILED — pg_restore into a fresh database failed: .*relation "known" does not exist.*older backups were not deleted/s);
        return true;
      });
      const names = (await fs.readdir(dir)).sort();
      const dump = names.find((n) => n.endsWith("-bad.dump"))!;
      assert.deepEqual(names, [older, dump, `${dump}.sha256`, `${dump}.verified.json`].sort(), "dump, checksum, failed record and the older backup stay");
      assert.deepEqual(await verifyContainers(db), []);
    } finally {
      await db.stop();
    }
  });

  describe("restore and verification", () => {
    const copy = async (tag: string, withRecord: "good" | "none" | "other") => {
      const name = path.basename(good.file).replace("-good.dump", `-${tag}.dump`);
      const file = path.join(path.dirname(good.file), name);
      await fs.copyFile(good.file, file);
      await fs.writeFile(`${file}.sha256`, formatChecksumFile(good.sha256, name));
      if (withRecord === "good") await fs.writeFile(`${file}.verified.json`, JSON.stringify({ ...good.verification, dump: name }));
      if (withRecord === "other") await fs.writeFile(`${file}.verified.json`, JSON.stringify({ ...good.verification, dump: name, sha256: "0".repeat(64) }));
      return file;
    };
    const snapshot = () => pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items");

    it("restores an unverified dump outside production with a warning", async () => {
      const file = await copy("plain", "none");
      await pg.sql("INSERT INTO items (name) VALUES ('later')");
      const logs: string[] = [];
      await restore({ prefix: "staging", dbContainer: pg.name, production: false, file, log: (l) => logs.push(l) });
      assert.equal(await snapshot(), "item-1,item-2,item-3");
      assert.match(logs.join("\n"), /warning: it was never verified by a restore: it has no verification record/);
      assert.match(logs.join("\n"), /reading .* back in full with pg_restore/, "no record: read to its end before anything changes");
    });

    it("refuses in production a dump never verified, one whose record is for other bytes, and one that failed — unless --allow-unverified", async () => {
      await pg.sql("INSERT INTO items (name) VALUES ('later')");
      const cases: Array<[string, "none" | "other" | "failed", RegExp]> = [
        ["unverified", "none", /never verified by a restore: it has no verification record/],
        ["otherbytes", "other", /never verified by a restore: its verification record vouches for another file/],
        ["failedrec", "failed", /it FAILED its verification on .*: table public\.items: 4 rows at dump time, 3 after the restore/],
      ];
      for (const [tag, rec, message] of cases) {
        const file = await copy(tag, rec === "failed" ? "none" : rec);
        if (rec === "failed") {
          const failed = { ...good.verification!, dump: path.basename(file), ok: false, problems: ["table public.items: 4 rows at dump time, 3 after the restore"] };
          await fs.writeFile(`${file}.verified.json`, JSON.stringify(failed));
        }
        await assert.rejects(restore({ prefix: "staging", dbContainer: pg.name, production: true, yes: true, file }), (err: Error) => {
          assert.ok(err instanceof OpsError && err.kind === "unverified", `${tag}: ${String(err)}`);
          assert.match(err.message, message);
          assert.match(err.message, /pass --allow-unverified to restore this one into production anyway/);
          return true;
        });
        assert.equal(await snapshot(), "item-1,item-2,item-3,later", `${tag}: nothing restored`);
      }
      const logs: string[] = [];
      await restore({ prefix: "staging", dbContainer: pg.name, production: true, yes: true, allowUnverified: true, file: path.join(path.dirname(good.file), path.basename(good.file).replace("-good", "-unverified")), log: (l) => logs.push(l) });
      assert.equal(await snapshot(), "item-1,item-2,item-3");
      assert.match(logs.join("\n"), /restoring into production because of --allow-unverified/);
    });

    it("restores a verified dump into production (with --yes) without a warning", async () => {
      await pg.sql("INSERT INTO items (name) VALUES ('later')");
      const file = await copy("verified", "good");
      const logs: string[] = [];
      await restore({ prefix: "staging", dbContainer: pg.name, production: true, yes: true, file, log: (l) => logs.push(l) });
      assert.equal(await snapshot(), "item-1,item-2,item-3");
      assert.doesNotMatch(logs.join("\n"), /warning/);
      // Its record vouches for these bytes (restored whole into a throwaway): not read through again before the restore.
      assert.match(logs.join("\n"), /was proven by a restore \(.*\) and its bytes are unchanged: not read through again/);
      assert.doesNotMatch(logs.join("\n"), /reading .* back in full with pg_restore/);
    });
  });

  describe("the throwaway container when the verb is killed", () => {
    const spawnVerify = (dir: string) =>
      spawn(process.execPath, ["--import", "tsx", "src/cli/backup.ts", "--stack", "staging", "--db-container", pg.name, "--dir", dir, "--verify"], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    /** Waits until the child's throwaway container exists (its owner label names the child's pid). */
    const throwawayOf = async (pid: number): Promise<string> => {
      for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
        const mine = (await pg.docker.listContainers({ all: true, filters: { label: ["slipway.role=backup-verify"] } })).find((c) => c.Labels["slipway.verify.owner"] === `${os.hostname()}/${pid}`);
        if (mine) return mine.Names[0].replace(/^\//, "");
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no throwaway container of pid ${pid} within 120 s`);
    };
    const exists = (name: string) => pg.docker.getContainer(name).inspect().then(() => true, () => false);

    it("SIGTERM: the verb removes its throwaway container, then dies of the signal", async () => {
      const child = spawnVerify(path.join(root, "sigterm"));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
      const name = await throwawayOf(child.pid!);
      child.kill("SIGTERM");
      assert.equal(await exited, "SIGTERM");
      assert.equal(await exists(name), false, `${name} removed`);
    });

    it("SIGKILL: the container stays, and the next verification on this machine removes it", async () => {
      const child = spawnVerify(path.join(root, "sigkill"));
      const exited = new Promise((resolve) => child.on("exit", resolve));
      const name = await throwawayOf(child.pid!);
      child.kill("SIGKILL");
      await exited;
      assert.equal(await exists(name), true, "nobody could remove it");
      const logs: string[] = [];
      await backup({ prefix: "staging", dbContainer: pg.name, dir: path.join(root, "sigkill"), imageTag: "next", verify: true, log: (l) => logs.push(l) });
      assert.equal(await exists(name), false, `${name} removed by the next verification`);
      assert.match(logs.join("\n"), new RegExp(`removed throwaway container ${name} left by a verification that was killed \\(pid ${child.pid}\\)`));
    });
  });
});
