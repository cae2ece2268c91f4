// backup() and restore() against a real PostgreSQL container: round trip, files it leaves,
// retention, disk full, pg_dump failure, unknown container.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/ops/backup";
import { OpsError } from "../../src/ops/errors";
import { restore } from "../../src/ops/restore";
import { startPostgres, TestPostgres } from "../support/postgres";

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

    await restore({ prefix: "staging", dbContainer: pg.name, file: made.file });
    assert.equal(await snapshot(pg), "3:alpha,beta,gamma");
    // sequences come back too: the next id follows the restored rows
    assert.equal(await pg.sql("INSERT INTO items (name) VALUES ('delta') RETURNING id"), "4");
    await pg.sql("DELETE FROM items WHERE name = 'delta'");
  });

  it("keeps the N newest backups of the stack and nothing of other stacks", async () => {
    const dir = path.join(root, "retention");
    await fs.mkdir(dir);
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

  it("fails clearly on a full disk and leaves no .dump behind", { skip: process.getuid?.() !== 0 && "needs root to mount tmpfs" }, async () => {
    await pg.sql("CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS junk FROM generate_series(1, 20000) g");
    const dir = path.join(root, "tiny");
    await fs.mkdir(dir);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
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
    await fs.mkdir(dir);
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
