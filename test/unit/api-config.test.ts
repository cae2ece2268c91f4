// Unit tests for reading the API's environment (src/api/config.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { dbConfigFrom, readConfig, withFileEnv } from "../../src/api/config";

test("defaults", () => {
  const config = readConfig({});
  assert.equal(config.port, 3000);
  assert.equal(config.version, "dev");
  assert.equal(config.shutdownDelayMs, 3000);
  assert.equal(config.shutdownMode, "graceful");
  assert.equal(config.db.connectionString, undefined);
});

test("DATABASE_URL wins over PG* variables", () => {
  const config = readConfig({ DATABASE_URL: "postgres://u:p@db:5432/app", PGHOST: "other" });
  assert.equal(config.db.connectionString, "postgres://u:p@db:5432/app");
  assert.equal(config.db.host, undefined);
});

test("PG* variables", () => {
  const { db } = readConfig({ PGHOST: "db", PGPORT: "5433", PGUSER: "u", PGPASSWORD: "p", PGDATABASE: "app" });
  assert.deepEqual(
    { host: db.host, port: db.port, user: db.user, password: db.password, database: db.database },
    { host: "db", port: 5433, user: "u", password: "p", database: "app" },
  );
});

test("PORT, APP_VERSION, SHUTDOWN_DELAY_MS, SHUTDOWN_MODE", () => {
  const config = readConfig({ PORT: "8080", APP_VERSION: "v2", SHUTDOWN_DELAY_MS: "0", SHUTDOWN_MODE: "abrupt" });
  assert.deepEqual(
    [config.port, config.version, config.shutdownDelayMs, config.shutdownMode],
    [8080, "v2", 0, "abrupt"],
  );
});

test("invalid values name the variable", () => {
  assert.throws(() => readConfig({ PORT: "http" }), /PORT/);
  assert.throws(() => readConfig({ SHUTDOWN_DELAY_MS: "-5" }), /SHUTDOWN_DELAY_MS/);
  assert.throws(() => readConfig({ SHUTDOWN_MODE: "polite" }), /SHUTDOWN_MODE/);
});

test("the database connect budget: PGCONNECT_TIMEOUT seconds, 10 by default", () => {
  assert.equal(dbConfigFrom({}).connectionTimeoutMillis, 10_000);
  assert.equal(dbConfigFrom({ PGCONNECT_TIMEOUT: "3" }).connectionTimeoutMillis, 3_000);
  assert.throws(() => dbConfigFrom({ PGCONNECT_TIMEOUT: "soon" }), /PGCONNECT_TIMEOUT/);
});

test("X_FILE: the file's content (one trailing newline trimmed) becomes X; the _FILE key is dropped", () => {
  const files: Record<string, string> = { "/run/secrets/PGPASSWORD": "s3cret\n", "/run/secrets/TOKEN": "a\nb\n\n" };
  const env = withFileEnv({ PGPASSWORD_FILE: "/run/secrets/PGPASSWORD", TOKEN_FILE: "/run/secrets/TOKEN", PGUSER: "api" }, (p) => files[p]);
  assert.deepEqual(env, { PGPASSWORD: "s3cret", TOKEN: "a\nb\n", PGUSER: "api" });
  assert.equal(readConfig(env).db.password, "s3cret");
});

test("X and X_FILE both set: an error naming both", () => {
  assert.throws(() => withFileEnv({ PGPASSWORD: "p", PGPASSWORD_FILE: "/run/secrets/PGPASSWORD" }, () => "q"), /PGPASSWORD and PGPASSWORD_FILE are both set/);
});

test("X_FILE naming a file that cannot be read: an error naming the variable and the path", () => {
  assert.throws(
    () => withFileEnv({ PGPASSWORD_FILE: "/run/secrets/nope" }, (p) => { throw new Error(`ENOENT: ${p}`); }),
    /PGPASSWORD_FILE: cannot read \/run\/secrets\/nope/,
  );
});

test("PGOPTIONS reaches the pool config (restore's migrations set their role with it)", () => {
  assert.equal(dbConfigFrom({ PGOPTIONS: "-c role=app_owner" }).options, "-c role=app_owner");
  assert.equal(dbConfigFrom({}).options, undefined);
});
