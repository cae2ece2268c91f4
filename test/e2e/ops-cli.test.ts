// The operator verbs as processes: exit codes, what goes to stdout/stderr, --help, usage errors.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startPostgres, TestPostgres } from "../support/postgres";
import { missingCommand, skipUnless } from "../support/prerequisites";

const repo = path.resolve(__dirname, "../..");

/** Runs a verb on a pseudo-terminal (util-linux `script`), typing `typed` into it. */
function verbOnTTY(name: "restore", args: string[], typed: string) {
  const command = ["node", "--import", "tsx", `src/cli/${name}.ts`, ...args].map((w) => `'${w}'`).join(" ");
  const r = spawnSync("script", ["-qec", command, "/dev/null"], { cwd: repo, encoding: "utf8", input: typed });
  return { code: r.status, output: r.stdout + r.stderr };
}

function verb(name: "backup" | "restore", args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", `src/cli/${name}.ts`, ...args], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("ops verbs (processes)", { timeout: 360_000 }, () => {
  let pg: TestPostgres;
  let dir: string;

  before(async () => {
    pg = await startPostgres({ prefix: "slipway-test-ops-cli" });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "slipway-ops-cli-"));
    await pg.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())");
    await pg.sql("INSERT INTO items (name) VALUES ('alpha')");
  });
  after(async () => {
    await pg?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it("prints --help and exits 0", () => {
    for (const name of ["backup", "restore"] as const) {
      const r = verb(name, ["--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`usage: npm run ${name} -- --stack <stack> \\[--db-container <name>\\]`));
    }
  });

  it("exits 2 naming a missing flag", () => {
    const r = verb("backup", ["--db-container", "x"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /backup: missing --stack <stack>/);
  });

  it("without --db-container, names the Pulumi stack it could not find and exits 1", () => {
    const r = verb("backup", ["--stack", "no-such-stack-here"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no Pulumi stack "no-such-stack-here" here .*pass --db-container/);
  });

  it("backs up verified (path on stdout), refuses production restore without --yes, restores with it", async () => {
    const b = verb("backup", ["--stack", "production", "--db-container", pg.name, "--dir", dir, "--keep", "2", "--image-tag", "cli1", "--verify"]);
    assert.equal(b.code, 0, b.stderr);
    const file = b.stdout.trim();
    assert.match(file, new RegExp(`^${dir}/production-\\d{8}T\\d{6}Z-cli1\\.dump$`));
    await fs.access(`${file}.sha256`);
    assert.match(b.stderr, /verified: restored into a throwaway database .* 1 table\(s\) with the same row counts/);
    assert.equal(JSON.parse(await fs.readFile(`${file}.verified.json`, "utf8")).ok, true);

    await pg.sql("DELETE FROM items");
    const refused = verb("restore", ["--stack", "production", "--db-container", pg.name, "--environment", "production", "--file", file]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /restore failed: stack 'production' is production and there is no terminal to confirm on; pass --yes/);
    assert.equal(await pg.sql("SELECT count(*) FROM items"), "0");

    const r = verb("restore", ["--stack", "production", "--db-container", pg.name, "--environment", "production", "--file", file, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await pg.sql("SELECT string_agg(name, ',') FROM items"), "alpha");
    // the data it replaced (the emptied table) was dumped first, kept beside the backup, and its path printed
    const safety = /the data it replaced is in (\S+-pre-restore\.dump);/.exec(r.stdout)?.[1];
    assert.ok(safety, r.stdout);
    assert.equal(path.dirname(safety), dir);
    await fs.access(safety);
    await fs.access(`${safety}.sha256`);
    assert.match(r.stderr, /safety dump: .*-pre-restore\.dump \(\d+ bytes, .*kept/);
    assert.ok(r.stderr.indexOf("safety dump: /") < r.stderr.indexOf("restoring into database"), "the safety dump comes before the schemas are replaced");
  });

  it("a production-labelled database container is production whatever --environment says: staging is refused, naming both", async () => {
    const prod = await startPostgres({ prefix: "slipway-test-ops-cli-prod", labels: { "slipway.environment": "production" } });
    try {
      await prod.sql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)");
      await prod.sql("INSERT INTO items (name) VALUES ('alpha')");
      const b = verb("backup", ["--stack", "staging", "--db-container", prod.name, "--dir", dir, "--image-tag", "prodlabel"]);
      assert.equal(b.code, 0, b.stderr);
      const file = b.stdout.trim();
      await prod.sql("INSERT INTO items (name) VALUES ('live')");
      const base = ["--stack", "staging", "--db-container", prod.name, "--file", file, "--yes", "--allow-unverified"];

      const staging = verb("restore", [...base, "--environment", "staging"]);
      assert.equal(staging.code, 2, staging.stderr);
      assert.match(staging.stderr, new RegExp(`restore: --environment staging contradicts the database: database container '${prod.name}' is labelled slipway\\.environment=production\\. Nothing was changed`));
      // without --environment the label decides: production, so no terminal and no --yes is refused
      const unconfirmed = verb("restore", ["--stack", "staging", "--db-container", prod.name, "--file", file, "--allow-unverified"]);
      assert.equal(unconfirmed.code, 1, unconfirmed.stderr);
      assert.match(unconfirmed.stderr, /stack 'staging' is production and there is no terminal to confirm on; pass --yes/);
      // and as production, an unverified dump needs --allow-unverified (the label made the production guards apply)
      const unverified = verb("restore", ["--stack", "staging", "--db-container", prod.name, "--file", file, "--yes"]);
      assert.equal(unverified.code, 1, unverified.stderr);
      assert.match(unverified.stderr, /into production stack 'staging': it was never verified by a restore.*--allow-unverified/);
      assert.equal(await prod.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha,live", "nothing restored");

      const r = verb("restore", [...base, "--environment", "production"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await prod.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha");
    } finally {
      await prod.stop();
    }
  });

  it("with --db-container, production is what --environment says, never the name (slipway-production included)", async () => {
    const b = verb("backup", ["--stack", "slipway-production", "--db-container", pg.name, "--dir", dir, "--image-tag", "label"]);
    assert.equal(b.code, 0, b.stderr);
    const file = b.stdout.trim();
    await pg.sql("INSERT INTO items (name) VALUES ('after-backup')");
    const base = ["--stack", "slipway-production", "--db-container", pg.name, "--file", file];

    const unstated = verb("restore", base);
    assert.equal(unstated.code, 2, unstated.stderr);
    assert.match(unstated.stderr, /restore: database container '.*' carries no slipway\.environment label and belongs to no stack that names one: pass --environment production\|staging .*never guesses it from a name/);
    const refused = verb("restore", [...base, "--environment", "production"]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /stack 'slipway-production' is production and there is no terminal to confirm on; pass --yes/);
    const bad = verb("restore", [...base, "--environment", "prod"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--environment must be production or staging, got 'prod'/);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha,after-backup", "nothing restored");

    const staging = verb("restore", [...base, "--environment", "staging"]);
    assert.equal(staging.code, 0, staging.stderr);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha");
  });

  it("asks on a terminal for production and goes ahead only when the stack name is typed", { skip: skipUnless(missingCommand("script", ["--version"], "apt-get install util-linux")) }, async () => {
    const b = verb("backup", ["--stack", "production", "--db-container", pg.name, "--dir", dir, "--image-tag", "tty"]);
    assert.equal(b.code, 0, b.stderr);
    const file = b.stdout.trim();
    await pg.sql("INSERT INTO items (name) VALUES ('after-backup')");

    // an unverified dump is refused in production before anything is asked; --allow-unverified lets it through to the question
    const unverified = verbOnTTY("restore", ["--stack", "production", "--db-container", pg.name, "--environment", "production", "--file", file], "production\n");
    assert.equal(unverified.code, 1, unverified.output);
    assert.match(unverified.output, /never verified by a restore.*pass --allow-unverified/s);
    assert.doesNotMatch(unverified.output, /Type the stack name/);

    const no = verbOnTTY("restore", ["--stack", "production", "--db-container", pg.name, "--environment", "production", "--file", file, "--allow-unverified"], "nope\n");
    assert.equal(no.code, 1, no.output);
    assert.match(no.output, /Type the stack name to continue/);
    assert.match(no.output, /not confirmed; nothing was changed/);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha,after-backup");

    const yes = verbOnTTY("restore", ["--stack", "production", "--db-container", pg.name, "--environment", "production", "--file", file, "--allow-unverified"], "production\n");
    assert.equal(yes.code, 0, yes.output);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha");
  });

  it("killed mid-dump (SIGKILL) leaves only a .partial, which restore refuses, and pg_dump stops", async () => {
    await pg.sql("CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) || md5((g * 7)::text) AS junk FROM generate_series(1, 300000) g");
    const killDir = path.join(dir, "killed");
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/backup.ts", "--stack", "staging", "--db-container", pg.name, "--dir", killDir], { cwd: repo, stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    try {
      let partial: string | undefined;
      for (let i = 0; i < 600 && !partial; i++) {
        const names = await fs.readdir(killDir).catch(() => [] as string[]);
        const p = names.find((n) => n.endsWith(".dump.partial"));
        if (p && (await fs.stat(path.join(killDir, p))).size > 0) partial = p;
        else await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(partial, "the backup never started writing");
      child.kill("SIGKILL");
      await exited;
      assert.deepEqual(await fs.readdir(killDir), [partial]);

      const r = verb("restore", ["--stack", "staging", "--db-container", pg.name, "--environment", "staging", "--file", path.join(killDir, partial)]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /restore failed: .*\.dump\.partial is an unfinished backup/);

      // the dump's connection closed with our process, so pg_dump ends instead of running on
      for (let i = 0; ; i++) {
        const ps = await pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'");
        if (ps === "0") break;
        assert.ok(i < 100, "pg_dump still running 10 s after its client was killed");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      child.kill("SIGKILL");
      await pg.sql("DROP TABLE filler");
    }
  });

  it("killed mid-restore (SIGKILL) commits nothing", async () => {
    await pg.sql("CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) AS junk FROM generate_series(1, 100000) g");
    const b = verb("backup", ["--stack", "staging", "--db-container", pg.name, "--dir", path.join(dir, "killrestore")]);
    assert.equal(b.code, 0, b.stderr);
    await pg.sql("DELETE FROM filler WHERE id > 10; INSERT INTO items (name) VALUES ('after-backup')");
    const before = await pg.sql("SELECT (SELECT count(*) FROM filler) || ':' || (SELECT string_agg(name, ',' ORDER BY id) FROM items)");

    // Hold a lock so the restore is provably mid-flight (its DROP waits) when we kill it; the holder
    // waits as long as it takes the restore to get there (a loaded machine), and is cancelled after.
    const holder = pg.sql("SET application_name = 'slipway-test-holder'; BEGIN; LOCK TABLE items IN ACCESS SHARE MODE; SELECT pg_sleep(300); COMMIT").catch(() => "cancelled");
    const release = () => pg.sql("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'slipway-test-holder'");
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/restore.ts", "--stack", "staging", "--db-container", pg.name, "--environment", "staging", "--file", b.stdout.trim()], { cwd: repo, stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    try {
      const waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway-restore' AND wait_event_type = 'Lock'";
      for (const deadline = Date.now() + 120_000; (await pg.sql(waiting)) !== "1"; ) {
        assert.ok(Date.now() < deadline, "the restore never reached the database");
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGKILL");
      await exited;
    } finally {
      child.kill("SIGKILL");
      await release();
      await holder;
    }
    for (let i = 0; (await pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway-restore'")) !== "0"; i++) {
      assert.ok(i < 100, "the restore's session still connected 10 s after its client was killed");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await pg.sql("SELECT (SELECT count(*) FROM filler) || ':' || (SELECT string_agg(name, ',' ORDER BY id) FROM items)"), before);
    await pg.sql("DROP TABLE filler");
  });
});
