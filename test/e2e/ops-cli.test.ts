// The operator verbs as processes: exit codes, what goes to stdout/stderr, --help, usage errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startPostgres, TestPostgres } from "../support/postgres";

const repo = path.resolve(__dirname, "../..");
const hasScript = spawnSync("script", ["--version"]).status === 0;

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

describe("ops verbs (processes)", { timeout: 180_000 }, () => {
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
      assert.match(r.stdout, new RegExp(`usage: npm run ${name} -- --stack <stack> --db-container <name>`));
    }
  });

  it("exits 2 naming a missing flag", () => {
    const r = verb("backup", ["--stack", "staging"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /backup: missing --db-container <name>/);
  });

  it("backs up (path on stdout), refuses production restore without --yes, restores with it", async () => {
    const b = verb("backup", ["--stack", "production", "--db-container", pg.name, "--dir", dir, "--keep", "2", "--image-tag", "cli1"]);
    assert.equal(b.code, 0, b.stderr);
    const file = b.stdout.trim();
    assert.match(file, new RegExp(`^${dir}/production-\\d{8}T\\d{6}Z-cli1\\.dump$`));
    await fs.access(`${file}.sha256`);

    await pg.sql("DELETE FROM items");
    const refused = verb("restore", ["--stack", "production", "--db-container", pg.name, "--file", file]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /restore failed: stack 'production' is production and there is no terminal to confirm on; pass --yes/);
    assert.equal(await pg.sql("SELECT count(*) FROM items"), "0");

    const r = verb("restore", ["--stack", "production", "--db-container", pg.name, "--file", file, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await pg.sql("SELECT string_agg(name, ',') FROM items"), "alpha");
  });

  it("asks on a terminal for production and goes ahead only when the stack name is typed", { skip: !hasScript && "util-linux script not installed" }, async () => {
    const b = verb("backup", ["--stack", "production", "--db-container", pg.name, "--dir", dir, "--image-tag", "tty"]);
    assert.equal(b.code, 0, b.stderr);
    const file = b.stdout.trim();
    await pg.sql("INSERT INTO items (name) VALUES ('after-backup')");

    const no = verbOnTTY("restore", ["--stack", "production", "--db-container", pg.name, "--file", file], "nope\n");
    assert.equal(no.code, 1, no.output);
    assert.match(no.output, /Type the stack name to continue/);
    assert.match(no.output, /not confirmed; nothing was changed/);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha,after-backup");

    const yes = verbOnTTY("restore", ["--stack", "production", "--db-container", pg.name, "--file", file], "production\n");
    assert.equal(yes.code, 0, yes.output);
    assert.equal(await pg.sql("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "alpha");
  });
});
