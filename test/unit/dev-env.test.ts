// Unit tests for the development tier's settings (src/dev/env.ts: .env parsing and zod validation) and
// the names and database URL src/dev/main.ts derives from them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { parseDotenv, validateDevEnv } from "../../src/dev/env";
import { databaseUrl, devNames } from "../../src/dev/main";

const root = path.join(__dirname, "..", "..");

test(".env.example is valid and sets the defaults", () => {
  const env = validateDevEnv(parseDotenv(readFileSync(path.join(root, ".env.example"), "utf8")));
  assert.deepEqual(env, validateDevEnv({}));
  assert.equal(env.SLIPWAY_DEV_PORT, 3000);
  assert.equal(env.SLIPWAY_DEV_PROJECT, "slipway-dev");
  assert.equal(env.SLIPWAY_DEV_DATABASE_URL, undefined);
});

test(".env is git-ignored and .env.example is not", () => {
  const ignored = readFileSync(path.join(root, ".gitignore"), "utf8").split("\n").map((l) => l.trim());
  assert.ok(ignored.includes(".env"));
  assert.ok(!ignored.some((l) => l === ".env.example" || l === ".env*"));
});

test("parseDotenv: comments, blanks, export, quotes, inline comments; bad lines and duplicates name the line", () => {
  assert.deepEqual(parseDotenv("# c\n\nexport A=1\nB=\"two words\"\nC='x#y'\nD=v # note\nE=\n"),
    { A: "1", B: "two words", C: "x#y", D: "v", E: "" });
  assert.throws(() => parseDotenv("A=1\nnot a line\n", "x.env"), /x\.env:2: expected KEY=VALUE/);
  assert.throws(() => parseDotenv("A=1\nA=2\n"), /\.env:2: A is set twice/);
});

test("unknown keys are refused, with a did-you-mean when one is close", () => {
  assert.throws(() => validateDevEnv({ SLIPWAY_DEV_PROT: "3000" }), /SLIPWAY_DEV_PROT: unknown key — did you mean SLIPWAY_DEV_PORT\?/);
  assert.throws(() => validateDevEnv({ SLIPWAY_DEV_POSTGRES_PASWORD: "x" }), /did you mean SLIPWAY_DEV_POSTGRES_PASSWORD\?/);
  assert.throws(() => validateDevEnv({ COLOUR: "red" }), /COLOUR: unknown key \(the dev tier reads SLIPWAY_DEV_PROJECT/);
});

test("bad values name the variable and what is wrong; every problem at once; secrets not echoed", () => {
  const error = (() => {
    try {
      validateDevEnv({ SLIPWAY_DEV_PORT: "http", SLIPWAY_DEV_PROJECT: "My Project", SLIPWAY_DEV_POSTGRES_PORT: "70000" }, "my.env");
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  })();
  assert.match(error, /^my\.env: invalid development settings/);
  assert.match(error, /SLIPWAY_DEV_PORT: must be a port number \(got "http"\)/);
  assert.match(error, /SLIPWAY_DEV_PROJECT: must be lower-case/);
  assert.match(error, /SLIPWAY_DEV_POSTGRES_PORT: must be a port number 1-65535/);
  assert.throws(() => validateDevEnv({ SLIPWAY_DEV_DATABASE_URL: "mysql://u:hunter2@db/x" }), (e: Error) =>
    /SLIPWAY_DEV_DATABASE_URL: must be a postgres/.test(e.message) && !e.message.includes("hunter2"));
  assert.throws(() => validateDevEnv({ SLIPWAY_DEV_DATABASE_URL: "postgres://u:p@localhost:5432/x" }), /host\.docker\.internal/);
});

test("an empty value means the default", () => {
  assert.equal(validateDevEnv({ SLIPWAY_DEV_PORT: "" }).SLIPWAY_DEV_PORT, 3000);
});

test("names and database URL: the dev container on the dev network, or the server named in .env", () => {
  const env = validateDevEnv({ SLIPWAY_DEV_PROJECT: "p1", SLIPWAY_DEV_POSTGRES_PASSWORD: "a b@c", SLIPWAY_DEV_POSTGRES_DB: "db1" });
  const names = devNames("p1");
  assert.deepEqual(names, { network: "p1", api: "p1-api", db: "p1-db", volume: "p1-pgdata" });
  assert.equal(databaseUrl(env, names), "postgres://postgres:a%20b%40c@p1-db:5432/db1");
  const external = validateDevEnv({ SLIPWAY_DEV_DATABASE_URL: "postgres://me:s@host.docker.internal:5432/x" });
  assert.equal(databaseUrl(external, names), "postgres://me:s@host.docker.internal:5432/x");
});
