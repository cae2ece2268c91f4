// Restore's pure decisions: confirmation on production, the dump's prefix matches the stack's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { databaseFromEnv } from "../../src/ops/database";
import { confirmationNeeded, isProductionStack, prefixMismatchProblem } from "../../src/ops/restore-policy";

describe("restore policy", () => {
  it("asks on production only, refuses without a terminal unless --yes", () => {
    const table: Array<[string, boolean, boolean, string]> = [
      ["staging", false, false, "proceed"],
      ["production", true, false, "proceed"],
      ["production", false, true, "ask"],
      ["production", false, false, "refuse"],
      ["prod", false, false, "refuse"],
      ["production-eu", false, false, "proceed"],
    ];
    for (const [stack, yes, isTTY, expected] of table) {
      assert.equal(confirmationNeeded({ production: isProductionStack(stack), yes, isTTY }), expected, `${stack} yes=${yes} tty=${isTTY}`);
    }
    assert.equal(isProductionStack("Production"), true);
    assert.equal(confirmationNeeded({ production: true, yes: false, isTTY: false }), "refuse", "an explicit environment wins over the name");
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
