// restore() against a real PostgreSQL container: every refusal leaves the data exactly as it was; a restore
// replaces the schema wholesale (tables added after the dump are gone); a restore that fails halfway — or waits
// longer than its lock timeout — is rolled back whole.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { backup, BackupResult } from "../../src/backup/backup";
import { formatChecksumFile } from "../../src/backup/checksum";
import { OpsError, OpsErrorKind } from "../../src/postgres/errors";
import { restore, RestoreOptions } from "../../src/restore/restore";
import { startPostgres, TestPostgres } from "../support/postgres";

const snapshot = (pg: TestPostgres) => pg.sql("SELECT count(*) || ':' || coalesce(string_agg(name, ',' ORDER BY id), '') FROM items");
const AFTER_BACKUP = "4:alpha,beta,gamma,after-backup";

describe("ops restore refusals (real PostgreSQL)", { timeout: 180_000 }, () => {
  let pg: TestPostgres;
  let dir: string;
  let good: BackupResult;

  before(async () => {
    pg = await startPostgres({ prefix: "slipway-test-ops-restore" });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-restore-"));
    await pg.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
    await pg.sql("INSERT INTO items (name) SELECT 'alpha' UNION ALL SELECT 'beta' UNION ALL SELECT 'gamma'");
    await pg.sql("CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS junk FROM generate_series(1, 5000) g"); // data blocks worth corrupting
    good = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "good" });
  });
  beforeEach(async () => {
    // the live data differs from the backup, so an unwanted restore would show
    await pg.sql("DELETE FROM items; INSERT INTO items (id, name) VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma'), (4, 'after-backup')");
    assert.equal(await snapshot(pg), AFTER_BACKUP);
  });
  after(async () => {
    await pg?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const refuses = async (opts: Partial<RestoreOptions>, kind: OpsErrorKind, message: RegExp) => {
    await assert.rejects(restore({ prefix: "staging", dbContainer: pg.name, production: false, file: good.file, ...opts }), (err: Error) => {
      assert.ok(err instanceof OpsError, String(err));
      assert.equal(err.kind, kind, err.message);
      assert.match(err.message, message);
      return true;
    });
    assert.equal(await snapshot(pg), AFTER_BACKUP, "data must be untouched");
  };

  /** A copy of the good dump under a new name (same stack), bytes changed by `mutate`, checksum optionally recomputed. */
  const variant = async (tag: string, mutate: (bytes: Buffer) => Buffer, recomputeChecksum: boolean) => {
    const name = path.basename(good.file).replace("-good.dump", `-${tag}.dump`);
    const file = path.join(dir, name);
    const original = await fs.readFile(good.file);
    const bytes = mutate(Buffer.from(original));
    await fs.writeFile(file, bytes);
    const sha = createHash("sha256")
      .update(recomputeChecksum ? bytes : original)
      .digest("hex");
    await fs.writeFile(`${file}.sha256`, formatChecksumFile(sha, name));
    return file;
  };

  it("refuses a missing file", async () => {
    await refuses({ file: path.join(dir, "staging-20260101T000000Z-gone.dump") }, "missing-file", /staging-20260101T000000Z-gone\.dump does not exist; list the backup directory/);
  });

  it("refuses a dump without its checksum file", async () => {
    const file = path.join(dir, path.basename(good.file).replace("-good.dump", "-nosum.dump"));
    await fs.copyFile(good.file, file);
    await refuses({ file }, "missing-checksum", /\.sha256 is missing/);
  });

  it("refuses a checksum mismatch", async () => {
    const file = await variant("flipped", (b) => ((b[b.length - 10] ^= 0xff), b), false);
    await refuses({ file }, "checksum-mismatch", /does not match its checksum.*use another backup/);
  });

  it("refuses a truncated dump even when its checksum matches", async () => {
    const file = await variant("truncated", (b) => b.subarray(0, Math.floor(b.length * 0.6)), true);
    await refuses({ file }, "corrupt-dump", /not a complete pg_dump custom-format archive/);
  });

  it("refuses corrupt bytes even when the checksum matches", async () => {
    const file = await variant("corrupt", (b) => (b.fill(0x5a, Math.floor(b.length * 0.7), Math.floor(b.length * 0.7) + 64), b), true);
    await refuses({ file }, "corrupt-dump", /not a complete pg_dump custom-format archive/);
  });

  it("refuses a file that is not a dump at all", async () => {
    const file = await variant("garbage", (b) => Buffer.alloc(b.length, 7), true);
    await refuses({ file }, "corrupt-dump", /pg_restore/);
  });

  it("refuses another stack's dump unless --allow-other-stack", async () => {
    await refuses({ prefix: "qa" }, "other-stack", /backup of stack 'staging', not 'qa'; pass --allow-other-stack/);
  });

  it("each override bypasses its own check only: --allow-unverified lets no other stack's dump in, --allow-other-stack no unverified one", async () => {
    await refuses({ prefix: "production", production: true, yes: true, allowUnverified: true }, "other-stack", /backup of stack 'staging', not 'production'; pass --allow-other-stack/);
    await refuses({ prefix: "production", production: true, yes: true, allowOtherStack: true }, "unverified", /never verified by a restore.*pass --allow-unverified/);
  });

  it("refuses production without a terminal and without --yes", async () => {
    await refuses({ prefix: "production", production: true, allowOtherStack: true }, "needs-confirmation", /'production' is production.*pass --yes/);
  });

  it("treats a stack as production when the caller says so, whatever its name — and never because of its name", async () => {
    await refuses({ production: true }, "needs-confirmation", /'staging' is production/);
    await restore({ prefix: "slipway-production", dbContainer: pg.name, production: false, file: good.file, allowOtherStack: true });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma", "not production: restored without a question");
  });

  it("refuses production when the operator does not confirm", async () => {
    let asked = "";
    const confirm = async (q: string) => ((asked = q), false);
    await refuses({ prefix: "production", production: true, allowOtherStack: true, allowUnverified: true, isTTY: true, confirm }, "not-confirmed", /not confirmed; nothing was changed/);
    assert.match(asked, /Restore .*-good\.dump into database 'slipway' of stack 'production'.*Type the stack name/);
  });

  it("replaces the schema wholesale: tables, views and schemas added after the dump are gone", async () => {
    await pg.sql("CREATE TABLE added_later (id int PRIMARY KEY, note text); INSERT INTO added_later SELECT g, 'n' || g FROM generate_series(1, 10) g");
    await pg.sql("CREATE VIEW item_names AS SELECT name FROM items"); // blocked `pg_restore --clean`'s DROP TABLE items before
    await pg.sql("CREATE SCHEMA extra; CREATE TABLE extra.t (x int)");
    const logs: string[] = [];
    const result = await restore({ prefix: "staging", dbContainer: pg.name, production: false, file: good.file, log: (l) => logs.push(l) });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
    assert.equal(await pg.sql("SELECT count(*) FROM filler"), "5000");
    assert.equal(await pg.sql("SELECT string_agg(nspname || '.' || relname, ',' ORDER BY nspname, relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE relkind IN ('r', 'v') AND nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"), "public.filler,public.items");
    assert.equal(await pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'extra'"), "0");
    // public is back as initdb makes it, so the next dump of this database restores the same way
    assert.equal(await pg.sql("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"), "pg_database_owner");
    // a plain database: nothing around it to put in maintenance or migrate, and restore says so
    assert.match(logs.join("\n"), /maintenance: skipped — database container '.*' carries no slipway.stack label/);
    assert.match(logs.join("\n"), /migrations: skipped — database container '.*' carries no slipway.stack label/);
    assert.equal(result.edge, "the edge was not touched (maintenance skipped)");
  });

  it("a restore that fails after the drop is rolled back whole: what was added after the dump is still there", async () => {
    // A dump that cannot be restored although pg_restore reads it fine: aa_items' CHECK calls a function that reads
    // zz_allowed, whose rows are loaded after aa_items' (pg_dump does not see dependencies inside function bodies).
    await pg.sql(`CREATE TABLE zz_allowed (name text PRIMARY KEY); INSERT INTO zz_allowed VALUES ('ok');
      CREATE FUNCTION is_allowed(n text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN EXISTS (SELECT 1 FROM public.zz_allowed WHERE name = n); END $$;
      CREATE TABLE aa_items (name text CHECK (public.is_allowed(name))); INSERT INTO aa_items VALUES ('ok')`);
    const broken = await backup({ prefix: "staging", dbContainer: pg.name, dir, imageTag: "order" });
    await pg.sql("DROP TABLE aa_items, zz_allowed; DROP FUNCTION is_allowed(text)");
    await pg.sql("CREATE TABLE added_later (id int PRIMARY KEY); INSERT INTO added_later SELECT generate_series(1, 7)");
    try {
      await refuses({ file: broken.file }, "restore-failed", /failed and was rolled back, so the data is as it was: .*check constraint "aa_items_name_check"/s);
      assert.equal(await pg.sql("SELECT count(*) FROM added_later"), "7", "the table added after the dump survived the failed run");
      assert.equal(await pg.sql("SELECT count(*) FROM filler"), "5000");
      assert.equal(await pg.sql("SELECT count(*) FROM pg_class WHERE relname IN ('aa_items', 'zz_allowed')"), "0", "nothing of the failed run is left");
    } finally {
      await pg.sql("DROP TABLE added_later");
    }
  });

  it("gives up after --lock-timeout when another session holds a lock, and leaves the data intact", async () => {
    await pg.sql("CREATE TABLE added_later (id int); INSERT INTO added_later VALUES (1)");
    // another session reads items in a long transaction (an API request that takes its time, a report)
    const holder = pg.sql("BEGIN; LOCK TABLE items IN ACCESS SHARE MODE; SELECT pg_sleep(20); COMMIT;");
    try {
      for (let i = 0; ; i++) {
        if ((await pg.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'items' AND l.granted AND l.pid <> pg_backend_pid()")) !== "0") break;
        assert.ok(i < 100, "the other session took its lock");
        await new Promise((r) => setTimeout(r, 100));
      }
      const started = Date.now();
      await refuses({ lockTimeoutMs: 1500 }, "restore-failed", /rolled back, so the data is as it was: another session held a lock on the existing data longer than the lock timeout .*canceling statement due to lock timeout.*raise --lock-timeout/s);
      const waited = Date.now() - started;
      assert.ok(waited < 12_000, `gave up after the lock timeout, not when the holder finished (${waited} ms)`);
      assert.equal(await pg.sql("SELECT count(*) FROM added_later"), "1");
      assert.equal(await pg.sql("SELECT count(*) FROM filler"), "5000");
    } finally {
      await holder;
      await pg.sql("DROP TABLE added_later");
    }
  });

  it("restores another stack's dump with --allow-other-stack, and an unverified one into production with --allow-unverified and --yes", async () => {
    await restore({ prefix: "qa", dbContainer: pg.name, production: false, file: good.file, allowOtherStack: true });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
    await pg.sql("INSERT INTO items (name) VALUES ('again')");
    await restore({ prefix: "production", dbContainer: pg.name, production: true, file: good.file, allowOtherStack: true, allowUnverified: true, yes: true });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
  });

  it("takes a safety dump of the data it replaces, keeps it, and it brings that data back", async () => {
    const safety = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-restore-safety-"));
    try {
      const logs: string[] = [];
      const result = await restore({ prefix: "staging", dbContainer: pg.name, production: false, file: good.file, safetyDumpDir: safety, log: (l) => logs.push(l) });
      assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
      assert.match(result.safetyDump, new RegExp(`^${safety}/staging-\\d{8}T\\d{6}Z-pre-restore\\.dump$`));
      await fs.access(`${result.safetyDump}.sha256`);
      assert.match(logs.join("\n"), /safety dump: .*-pre-restore\.dump \(\d+ bytes, sha256 [0-9a-f]{12}…; kept/);
      assert.ok(logs.findIndex((l) => l.startsWith("safety dump: /")) < logs.findIndex((l) => l.startsWith("restoring into database")), "the safety dump is taken before the schemas are replaced");
      await fs.access(good.file); // no retention ran: the dump just restored is still there
      // the safety dump holds what the restore replaced: restoring it undoes the restore
      await restore({ prefix: "staging", dbContainer: pg.name, production: false, file: result.safetyDump, safetyDumpDir: safety });
      assert.equal(await snapshot(pg), AFTER_BACKUP);
    } finally {
      await fs.rm(safety, { recursive: true, force: true });
    }
  });

  it("a safety dump that cannot be taken stops the restore before anything is dropped", async () => {
    const open = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-restore-open-"));
    try {
      await fs.chmod(open, 0o777); // open to other users: backup refuses to write a dump there
      await refuses({ safetyDumpDir: open }, "safety-dump-failed", /safety dump of the current data into .* failed, so nothing was dropped or restored/);
    } finally {
      await fs.rm(open, { recursive: true, force: true });
    }
  });
});
