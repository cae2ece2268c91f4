// Least privilege, the pure parts: the database roles script, secrets as files (archive, owner, env) and a revision
// that never hashes a secret value directly (src/postgres/roles.ts, src/docker/secret-files.ts, src/rollout/spec.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { firstFileOfTar, resolveIds, secretFileEnv, secretsArchive } from "../../src/docker";
import { dropTempLoginScript, rolesCommand, rolesScript, tempLoginScript } from "../../src/postgres/roles";
import { replaceSchemasSql } from "../../src/postgres/commands";
import { initdbPasswordDelivery, passwordInEnv } from "../../src/postgres/initdb-password";
import { createOptions, type ReplicaSpec, revisionOfSpec, validateSpec } from "../../src/rollout/spec";
import { revisionOf } from "../../src/vocabulary";
import { EDGE_WRITABLE_DIRS, edgeCreateOptions, edgeRevision, type EdgeProxySpec } from "../../src/edge/proxy";
import { ADMIN_SOCKET, CONFIG_PATH, MAINTENANCE_MAP, MASTER_SOCKET, SERVER_STATE_FILE, TLS_PEM } from "../../src/edge/haproxy-config";

const spec: ReplicaSpec = {
  stack: "slipway-staging",
  service: "api",
  image: "slipway/api:1",
  replicas: 2,
  env: { PORT: "3000", PGUSER: "slipway_api" },
  networks: [{ name: "edge", aliases: ["api"] }, { name: "backend" }],
  memoryMb: 256,
  cpus: 0.5,
  restartPolicy: "unless-stopped",
  healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0 },
};
const KEY = "k".repeat(48);

describe("database roles script", () => {
  const sql = rolesScript();
  it("makes the owner and API roles idempotently, neither superuser nor able to create roles or databases", () => {
    assert.match(sql, /WHERE NOT EXISTS \(SELECT 1 FROM pg_roles WHERE rolname = 'slipway_owner'\) \\gexec/);
    assert.match(sql, /ALTER ROLE slipway_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_password';/);
    assert.match(sql, /ALTER ROLE slipway_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'api_password';/);
  });
  it("gives the owner the database, the API DML through default privileges not bound to a schema, and clears the superuser's password", () => {
    assert.match(sql, /ALTER DATABASE :"dbname" OWNER TO slipway_owner;/);
    assert.match(sql, /REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;/);
    assert.match(sql, /ALTER DEFAULT PRIVILEGES FOR ROLE slipway_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO slipway_api;/);
    assert.doesNotMatch(sql, /DEFAULT PRIVILEGES[^;]* IN SCHEMA/, "restore drops and re-creates the schemas: schema-bound defaults would go with them");
    assert.doesNotMatch(sql, /TRUNCATE|CREATE ON SCHEMA[^;]*slipway_api|GRANT ALL/);
    assert.match(sql, /ALTER ROLE CURRENT_USER PASSWORD NULL;\nCOMMIT;/);
  });
  it("the command reads the passwords from the environment into psql's stdin, as the superuser on the local socket", () => {
    const cmd = rolesCommand("slipway-staging-db", { user: "app", database: "app" });
    assert.match(cmd, /"\$SLIPWAY_DB_OWNER_PASSWORD" "\$SLIPWAY_DB_API_PASSWORD"/);
    assert.match(cmd, /\| docker exec -i slipway-staging-db psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --set dbname=app --username app --dbname app$/);
    assert.doesNotMatch(cmd, /--host|-h /, "never over the network");
  });
  it("restore's temporary login joins the owner (or the superuser without roles) and goes again with its CONNECT grant", () => {
    const t = tempLoginScript("slipway_restore_0a1b", "abc123");
    assert.match(t, /THEN 'slipway_owner' ELSE current_user END AS target \\gset/);
    assert.match(t, /CREATE ROLE slipway_restore_0a1b LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'abc123' IN ROLE :"target";/);
    assert.match(t, /GRANT CONNECT ON DATABASE :"dbname" TO slipway_restore_0a1b;/);
    assert.throws(() => tempLoginScript("x'; DROP", "p"), /name must be/);
    assert.throws(() => tempLoginScript("x", "p'q"), /password letters and digits/);
    assert.match(dropTempLoginScript("slipway_restore_0a1b"), /REVOKE CONNECT[\s\S]*DROP ROLE IF EXISTS slipway_restore_0a1b;/);
  });
  it("restore makes what the dump creates the owner role's, when the stack has one", () => {
    assert.match(replaceSchemasSql(1000), /IF EXISTS \(SELECT 1 FROM pg_roles WHERE rolname = 'slipway_owner'\) THEN EXECUTE 'SET ROLE slipway_owner'/);
  });
});

describe("locked-down replicas", () => {
  it("every replica: read-only root filesystem, no capabilities, no privilege gain, /tmp a tmpfs, /run its own volume; not in the revision", () => {
    const opts = createOptions({ ...spec, volumes: [{ source: "data", target: "/data", readOnly: false }] }, 1);
    const host = opts.HostConfig!;
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.CapDrop, ["ALL"]);
    assert.deepEqual(host.SecurityOpt, ["no-new-privileges"]);
    assert.match(host.Tmpfs!["/tmp"]!, /noexec,nosuid/);
    assert.deepEqual(host.Mounts!.map((m) => [m.Type, m.Source, m.Target]), [["volume", "", "/run"], ["volume", "data", "/data"]], "/run anonymous (removed with the replica), api.volumes kept");
    assert.equal(revisionOfSpec(spec), revisionOfSpec({ ...spec }), "the lock-down is how slipway runs replicas, not a setting: no roll of existing replicas for it");
  });
});

describe("locked-down edge", () => {
  const edge: EdgeProxySpec = { stack: "slipway-staging", holder: "slipway-staging-edge", image: "slipway/edge:1", config: "global\n", restartPolicy: "unless-stopped" };
  it("every HAProxy: read-only root filesystem, no capabilities, no privilege gain; writable only its config, state and socket directories, as its own volumes", () => {
    const opts = edgeCreateOptions(edge);
    const host = opts.HostConfig!;
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.CapDrop, ["ALL"]);
    assert.equal(host.CapAdd, undefined, "it binds 8080/8443/8405 as user haproxy: no NET_BIND_SERVICE");
    assert.deepEqual(host.SecurityOpt, ["no-new-privileges"]);
    assert.deepEqual(Object.keys(opts.Volumes ?? {}), ["/usr/local/etc/haproxy", "/var/lib/haproxy", "/var/run/haproxy"],
      "anonymous volumes, filled from the image at create (removed with the container), for every path slipway uploads to or HAProxy writes");
    assert.equal(host.Mounts, undefined);
    for (const path of [CONFIG_PATH, TLS_PEM, MAINTENANCE_MAP, SERVER_STATE_FILE, ADMIN_SOCKET, MASTER_SOCKET]) {
      assert.ok(EDGE_WRITABLE_DIRS.some((d) => path.startsWith(`${d}/`)), `${path} is on a writable volume`);
    }
    const { config: _config, ...container } = edge;
    assert.equal(edgeRevision(edge), revisionOf(container), "the revision hashes the stack's spec only: no handover of a running edge for the lock-down");
  });
});

describe("secrets as files", () => {
  it("the environment names the files only", () => {
    assert.deepEqual(secretFileEnv(["TOKEN", "PGPASSWORD"]), ["PGPASSWORD_FILE=/run/secrets/PGPASSWORD", "TOKEN_FILE=/run/secrets/TOKEN"]);
    const opts = createOptions({ ...spec, secrets: { PGPASSWORD: "hunter2-secret", TOKEN: "t0ken-value" }, secretsKey: KEY }, 1);
    assert.ok(opts.Env!.includes("PGPASSWORD_FILE=/run/secrets/PGPASSWORD") && opts.Env!.includes("TOKEN_FILE=/run/secrets/TOKEN"));
    const shown = JSON.stringify(opts);
    for (const v of ["hunter2-secret", "t0ken-value", KEY]) assert.ok(!shown.includes(v), `${v} is nowhere in the create options (env, labels, name)`);
  });
  it("the archive: a 0500 directory and 0400 files, owned by the container's user", () => {
    const tar = secretsArchive({ PGPASSWORD: "pw" }, { uid: 1000, gid: 1001 });
    const header = (n: number) => tar.subarray(n * 512, n * 512 + 512);
    const field = (h: Buffer, at: number, len: number) => h.subarray(at, at + len).toString("ascii").replace(/\0.*$/s, "");
    assert.equal(field(header(0), 0, 100), "secrets/", "uploaded at /run (SECRETS_PARENT)");
    assert.equal(field(header(0), 156, 1), "5");
    assert.equal(parseInt(field(header(0), 100, 8), 8), 0o500);
    assert.equal(field(header(1), 0, 100), "secrets/PGPASSWORD");
    assert.equal(parseInt(field(header(1), 100, 8), 8), 0o400);
    assert.equal(parseInt(field(header(1), 108, 8), 8), 1000);
    assert.equal(parseInt(field(header(1), 116, 8), 8), 1001);
    assert.equal(firstFileOfTar(tar)?.toString(), "pw");
    assert.throws(() => secretsArchive({ "../etc/passwd": "x" }, { uid: 0, gid: 0 }), /must be a variable name/);
  });
  it("the container's user, numeric or by name from its own /etc/passwd and /etc/group", async () => {
    const files: Record<string, string> = { "/etc/passwd": "root:x:0:0::/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n", "/etc/group": "staff:x:50:\n" };
    const read = async (p: string) => files[p];
    assert.deepEqual(await resolveIds("", read), { uid: 0, gid: 0 });
    assert.deepEqual(await resolveIds("node", read), { uid: 1000, gid: 1000 });
    assert.deepEqual(await resolveIds("node:staff", read), { uid: 1000, gid: 50 });
    assert.deepEqual(await resolveIds("1234:5678", read), { uid: 1234, gid: 5678 });
    await assert.rejects(resolveIds("nobody-here", read), /not in its \/etc\/passwd/);
  });
  it("a secret that is also an env variable, an invalid name or a missing key: an error naming them", () => {
    assert.throws(() => validateSpec({ ...spec, env: { ...spec.env, TOKEN: "x" }, secrets: { TOKEN: "y" }, secretsKey: KEY }), /env: TOKEN is also a secret/);
    assert.throws(() => validateSpec({ ...spec, env: { ...spec.env, TOKEN_FILE: "/x" }, secrets: { TOKEN: "y" }, secretsKey: KEY }), /env: TOKEN_FILE is also a secret/);
    assert.throws(() => validateSpec({ ...spec, secrets: { "A B": "y" }, secretsKey: KEY }), /secrets: secret "A B" must be a variable name/);
    assert.throws(() => validateSpec({ ...spec, secrets: { A: "y" } }), /secrets need a secretsKey/);
  });
});

describe("revision without secrets", () => {
  const withSecret = (value: string, key = KEY) => ({ ...spec, secrets: { PGPASSWORD: value }, secretsKey: key });
  it("a changed secret is a new revision (the replicas roll); the same secret the same revision", () => {
    assert.notEqual(revisionOfSpec(withSecret("a")), revisionOfSpec(withSecret("b")));
    assert.equal(revisionOfSpec(withSecret("a")), revisionOfSpec({ ...withSecret("a"), replicas: 9 }));
  });
  it("cannot be confirmed from a guessed secret without the stack's key: not the unkeyed hash of the old scheme", () => {
    const unkeyed = revisionOf({ ...spec, replicas: undefined, env: { ...spec.env, PGPASSWORD: "a" } });
    assert.notEqual(revisionOfSpec(withSecret("a")), unkeyed);
    assert.notEqual(revisionOfSpec(withSecret("a", "x".repeat(48))), revisionOfSpec(withSecret("a")), "another stack's key, another revision");
    const plain = createHash("sha256").update("a").digest("hex");
    assert.ok(!revisionOfSpec(withSecret("a")).includes(plain.slice(0, 8)));
  });
  it("a spec without secrets hashes exactly as before (a rollback finds its old containers)", () => {
    const { replicas: _r, ...rest } = spec;
    assert.equal(revisionOfSpec(spec), revisionOf(rest));
  });
});

describe("the database's initdb password (src/postgres/initdb-password.ts)", () => {
  const decide = (existingInEnv: boolean, production: boolean, convert = false) => initdbPasswordDelivery({ existingInEnv, production, convert, container: "slipway-production-db" });
  it("a new database gets it as a file, staging and production alike", () => {
    assert.deepEqual(decide(false, false), { delivery: "file" });
    assert.deepEqual(decide(false, true), { delivery: "file" });
  });
  it("a staging database created with it in its environment is converted (replaced) on the next deploy", () => {
    assert.deepEqual(decide(true, false), { delivery: "file" });
  });
  it("a production one keeps its environment, with a warning naming the key and the RUNBOOK, until the stack asks", () => {
    const kept = decide(true, true);
    assert.equal(kept.delivery, "env");
    assert.match(kept.warning ?? "", /slipway-production-db[\s\S]*database\.convertPasswordEnv: true[\s\S]*RUNBOOK\.md §2/);
    assert.deepEqual(decide(true, true, true), { delivery: "file" });
  });
  it("reads the environment entry, not a _FILE one", () => {
    assert.equal(passwordInEnv(["POSTGRES_USER=app", "POSTGRES_PASSWORD=x"]), true);
    assert.equal(passwordInEnv(["POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD"]), false);
  });
});
