// Restore's pure decisions: confirmation on production, the dump's prefix matches the stack's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { databaseFromEnv } from "../../src/postgres/database";
import { confirmationNeeded, prefixMismatchProblem } from "../../src/restore/policy";

describe("restore policy", () => {
  it("asks on production only, refuses without a terminal unless --yes", () => {
    const table: Array<[boolean, boolean, boolean, string]> = [
      [false, false, false, "proceed"],
      [true, true, false, "proceed"],
      [true, false, true, "ask"],
      [true, false, false, "refuse"],
    ];
    for (const [production, yes, isTTY, expected] of table) {
      assert.equal(confirmationNeeded({ production, yes, isTTY }), expected, `production=${production} yes=${yes} tty=${isTTY}`);
    }
  });

  it("refuses another stack's dump unless forced, naming both stacks", () => {
    assert.equal(prefixMismatchProblem({ dumpPrefix: "slipway-staging", prefix: "slipway-staging", force: false }), undefined);
    assert.match(prefixMismatchProblem({ dumpPrefix: "production", prefix: "staging", force: false })!, /backup of stack 'production', not 'staging'.*--force/);
    assert.equal(prefixMismatchProblem({ dumpPrefix: "production", prefix: "staging", force: true }), undefined);
    assert.match(prefixMismatchProblem({ dumpPrefix: undefined, prefix: "staging", force: false })!, /cannot tell which stack/);
  });

  it("takes database and user from the container's env unless given", () => {
    assert.deepEqual(databaseFromEnv(["POSTGRES_USER=app", "POSTGRES_DB=appdb", "X=a=b"], {}), { user: "app", database: "appdb" });
    assert.deepEqual(databaseFromEnv([], {}), { user: "postgres", database: "postgres" });
    assert.deepEqual(databaseFromEnv(["POSTGRES_USER=app"], {}), { user: "app", database: "app" });
    assert.deepEqual(databaseFromEnv(["POSTGRES_USER=app"], { database: "other" }), { user: "app", database: "other" });
  });
});
