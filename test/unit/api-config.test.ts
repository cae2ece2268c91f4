// Unit tests for reading the API's environment (src/api/config.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { dbConfigFrom, readConfig } from "../../src/api/config";

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
