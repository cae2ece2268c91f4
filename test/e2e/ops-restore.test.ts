// restore() refusals against a real PostgreSQL container: every refusal leaves the data exactly
// as it was, and a restore that fails halfway is rolled back.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { backup, BackupResult } from "../../src/ops/backup";
import { formatChecksumFile } from "../../src/ops/checksum";
import { OpsError, OpsErrorKind } from "../../src/ops/errors";
import { restore, RestoreOptions } from "../../src/ops/restore";
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

  it("refuses another stack's dump unless forced", async () => {
    await refuses({ prefix: "qa" }, "other-stack", /backup of stack 'staging', not 'qa'; pass --force/);
  });

  it("refuses production without a terminal and without --yes", async () => {
    await refuses({ prefix: "production", production: true, force: true }, "needs-confirmation", /'production' is production.*pass --yes/);
  });

  it("treats a stack as production when the caller says so, whatever its name — and never because of its name", async () => {
    await refuses({ production: true }, "needs-confirmation", /'staging' is production/);
    await restore({ prefix: "slipway-production", dbContainer: pg.name, production: false, file: good.file, force: true });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma", "not production: restored without a question");
  });

  it("refuses production when the operator does not confirm", async () => {
    let asked = "";
    const confirm = async (q: string) => ((asked = q), false);
    await refuses({ prefix: "production", production: true, force: true, isTTY: true, confirm }, "not-confirmed", /not confirmed; nothing was changed/);
    assert.match(asked, /Restore .*-good\.dump into database 'slipway' of stack 'production'.*Type the stack name/);
  });

  it("rolls back a restore that fails halfway", async () => {
    // a view the dump does not know about makes `DROP TABLE items` fail after other objects were dropped
    await pg.sql("CREATE VIEW item_names AS SELECT name FROM items");
    try {
      await refuses({}, "restore-failed", /failed and was rolled back, so the data is as it was/);
      assert.equal(await pg.sql("SELECT count(*) FROM filler"), "5000");
    } finally {
      await pg.sql("DROP VIEW item_names");
    }
  });

  it("restores another stack's dump with --force, and production with --yes", async () => {
    await restore({ prefix: "qa", dbContainer: pg.name, production: false, file: good.file, force: true });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
    await pg.sql("INSERT INTO items (name) VALUES ('again')");
    await restore({ prefix: "production", dbContainer: pg.name, production: true, file: good.file, force: true, yes: true });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
  });
});
