// Least privilege on the path users run: a production-shaped stack of the real program brought up with `pulumi up`.
//  1. a stack whose schema the superuser owns (as every stack deployed before the roles existed: its migrations ran
//     as the superuser) converts by a normal deploy under load through the edge — a new image whose migration
//     alters that table and adds another, a secret added — with 0 failed requests, 0 rows written twice, and an
//     empty `pulumi preview --expect-no-changes` after it;
//  2. on real PostgreSQL, the API's role (its password read from the replica's own secret file) writes the new
//     migration's table with no grant of its own, and cannot CREATE/DROP tables, create roles, read another schema
//     or COPY … PROGRAM; the superuser cannot log in over the network;
//  3. no secret value (the API's password, the superuser's initdb password, a secretEnv value) appears in `docker inspect` of any
//     container of the stack, in labels or names, in the exported Pulumi state or in the `pulumi up` output; the
//     secret files are 0400 and the container user's; changing only a secret rolls the replicas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { connectDocker } from "../../src/docker";
import { testImages } from "../support/docker-images";
import { deriveApiImage } from "../support/derived-images";
import { assertZeroDowntime, describeStep, startScenario } from "../support/deploy-scenario";
import { engineAvailable, pulumiCli } from "../support/pulumi";

const LOAD = { connections: 30, settleS: 3 };

test("least privilege: roles convert an existing stack under load; the API role is DML only; no secret in inspect, state or output", { timeout: 20 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const name = `lp${randomBytes(3).toString("hex")}`;
  let output = "";
  const s = await startScenario(name, images, (line) => {
    output += line;
    process.stderr.write(line);
  });
  t.after(() => s.cleanup());
  const { stack } = s.ps;
  const docker = connectDocker();
  const db = s.dbContainer;
  const sh = (args: string[], input?: string) => execFileSync("docker", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] }).trim();
  const superSql = (query: string) => sh(["exec", db, "psql", "-U", "app", "-d", "app", "-Atc", query]);
  const replicas = async () => ((await stack.outputs()).apiContainers!.value as string[]).slice().sort();

  // 1. Make the schema look as before the roles: the superuser owns it (the API role keeps its grants: the owner
  //    change rewrites them). The next deploy's roles step must give it back to the owner, or v2's ALTER fails.
  superSql("ALTER TABLE items OWNER TO app; ALTER TABLE pgmigrations OWNER TO app; CREATE SCHEMA other; CREATE TABLE other.secret_stuff (x int); INSERT INTO other.secret_stuff VALUES (42)");
  assert.equal(superSql("SELECT tableowner FROM pg_tables WHERE tablename = 'items'"), "app");
  const v2 = `${images.api}-${name}-v2`;
  deriveApiImage({
    from: images.api,
    ref: v2,
    version: "v2",
    migration: { name: "1800000000000_notes", sql: "-- Up Migration\nALTER TABLE items ADD COLUMN note text;\nCREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n\n-- Down Migration\nDROP TABLE notes;\nALTER TABLE items DROP COLUMN note;\n" },
  });
  t.after(() => execFileSync("docker", ["rmi", "-f", v2], { stdio: "ignore" }));
  const token = `tok-${randomBytes(12).toString("hex")}`;
  const before = await replicas();
  const f = await s.measure("conversion deploy (roles step, v2 migration as the owner, a secret added)", LOAD, async () => {
    await stack.setConfig("slipway:images.api", { value: v2 }, true);
    await stack.setConfig("slipway:secretEnv.API_TOKEN", { value: token, secret: true }, true);
    await s.up("convert to roles");
  });
  console.log(describeStep(f));
  assertZeroDowntime(f);
  const after = await replicas();
  assert.equal(after.filter((n) => before.includes(n)).length, 0, "every replica was replaced (now on the API role, secrets as files)");

  // 2. Roles on real PostgreSQL.
  assert.equal(superSql("SELECT string_agg(tableowner, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"), "slipway_owner,slipway_owner,slipway_owner", "items, notes, pgmigrations belong to the owner");
  assert.equal(superSql("SELECT string_agg(format('%s:%s%s%s', rolname, rolsuper, rolcreaterole, rolcreatedb), ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'slipway\\_%'"), "slipway_api:fff,slipway_owner:fff");
  const replica = after[0];
  assert.equal(sh(["exec", replica, "stat", "-c", "%a %U", "/run/secrets/PGPASSWORD", "/run/secrets/API_TOKEN"]), "400 node\n400 node");
  assert.equal(sh(["exec", replica, "stat", "-c", "%a %U", "/run/secrets"]), "500 node");
  // Locked down: a read-only root filesystem, no capabilities, no privilege gain.
  const host = (await docker.getContainer(replica).inspect()).HostConfig;
  assert.deepEqual([host.ReadonlyRootfs, host.CapDrop, host.SecurityOpt], [true, ["ALL"], ["no-new-privileges"]]);
  assert.match(sh(["exec", replica, "sh", "-c", "touch /app/x 2>&1 || true"]), /Read-only file system/);
  assert.equal(sh(["exec", replica, "sh", "-c", "grep CapEff /proc/1/status"]), "CapEff:\t0000000000000000");
  const apiPassword = sh(["exec", replica, "cat", "/run/secrets/PGPASSWORD"]);
  assert.equal(sh(["exec", replica, "cat", "/run/secrets/API_TOKEN"]), token);
  // As the API's role over TCP, the password on stdin (never on a command line or in an environment we leave behind).
  const asApi = (query: string) => {
    try {
      return { ok: true, out: sh(["exec", "-i", db, "sh", "-c", 'read -r PGPASSWORD; export PGPASSWORD; exec psql -X -h 127.0.0.1 -U slipway_api -d app -v ON_ERROR_STOP=1 -Atc "$1"', "sh", query], `${apiPassword}\n`) };
    } catch (e) {
      return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
    }
  };
  const notes = asApi("INSERT INTO notes (body) VALUES ('no grant needed') RETURNING id");
  assert.ok(notes.ok, `the new migration's table is writable by the API role without a grant: ${notes.out}`);
  for (const [what, query, error] of [
    ["CREATE TABLE", "CREATE TABLE evil (x int)", /permission denied for schema public/],
    ["DROP TABLE", "DROP TABLE items", /must be owner of table items/],
    ["CREATE ROLE", "CREATE ROLE evil", /permission denied to create role/],
    ["another schema", "SELECT * FROM other.secret_stuff", /permission denied for schema other/],
    ["COPY … PROGRAM", "COPY items TO PROGRAM 'id'", /permission denied to COPY to or from an external program/],
    ["TRUNCATE", "TRUNCATE items", /permission denied for table items/],
  ] as const) {
    const r = asApi(query);
    assert.ok(!r.ok, `the API role cannot ${what}`);
    assert.match(r.out, error, `the API role cannot ${what}`);
  }
  // The superuser's initdb password is a file in the database container, not in its environment.
  const dbEnv = (await docker.getContainer(db).inspect()).Config.Env ?? [];
  assert.ok(!dbEnv.some((e) => e.startsWith("POSTGRES_PASSWORD=")), "no password in the database container's environment");
  assert.ok(dbEnv.includes("POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD"), dbEnv.join(" "));
  const superPassword = sh(["exec", db, "cat", "/run/secrets/POSTGRES_PASSWORD"]);
  assert.ok(superPassword.length >= 32, "the initdb password file holds the generated password");
  assert.throws(
    () => sh(["exec", "-i", db, "sh", "-c", "read -r PGPASSWORD; export PGPASSWORD; exec psql -X -h 127.0.0.1 -U app -d app -Atc 'select 1'"], `${superPassword}\n`),
    /password authentication failed for user "app"/,
    "the superuser cannot log in over the network (its initdb password is cleared)",
  );

  // 3. Changing only a secret rolls the replicas.
  const token2 = `tok-${randomBytes(12).toString("hex")}`;
  await stack.setConfig("slipway:secretEnv.API_TOKEN", { value: token2, secret: true }, true);
  await s.up("rotate a secret");
  const rotated = await replicas();
  assert.equal(rotated.filter((n) => after.includes(n)).length, 0, "a changed secret rolls every replica");
  assert.equal(sh(["exec", rotated[0], "cat", "/run/secrets/API_TOKEN"]), token2);
  await stack.preview({ expectNoChanges: true, color: "never" });

  // No secret value anywhere an observer looks.
  const secrets = [apiPassword, token, token2, superPassword];
  const ids = sh(["ps", "-aq", "--filter", `label=slipway.stack=${s.ps.prefix}`]).split("\n").filter(Boolean);
  assert.ok(ids.length >= 5, `the stack's containers (${ids.length})`);
  const inspect = sh(["inspect", ...ids]);
  // `pulumi stack export` as a user runs it (the Automation API's exportStack() adds --show-secrets).
  const state = await pulumiCli(s.ps, ["stack", "export"]);
  for (const v of secrets) {
    assert.ok(!inspect.includes(v), "no secret in docker inspect (env, labels, names) of any container of the stack");
    const at = state.indexOf(v);
    assert.ok(at < 0, `no secret in the Pulumi state in plaintext (found: …${state.slice(Math.max(0, at - 300), at).replaceAll(v, "<secret>")}<secret>…)`);
    assert.ok(!output.includes(v), "no secret in the `pulumi up` output");
  }
});
