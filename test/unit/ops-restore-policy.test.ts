// Restore's pure decisions: confirmation on production, the dump's prefix matches the stack's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { databaseFromEnv } from "../../src/postgres/database";
import { stackOfLabels } from "../../src/restore/environment";
import { confirmationNeeded, forceRefusal, prefixMismatchProblem, RESTORE_OVERRIDES, restoreEnvironment } from "../../src/restore/policy";

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

  it("refuses another stack's dump unless --allow-other-stack, naming both stacks", () => {
    assert.equal(prefixMismatchProblem({ dumpPrefix: "slipway-staging", prefix: "slipway-staging", allowOtherStack: false }), undefined);
    assert.match(prefixMismatchProblem({ dumpPrefix: "production", prefix: "staging", allowOtherStack: false })!, /backup of stack 'production', not 'staging'.*--allow-other-stack/);
    assert.equal(prefixMismatchProblem({ dumpPrefix: "production", prefix: "staging", allowOtherStack: true }), undefined);
    assert.match(prefixMismatchProblem({ dumpPrefix: undefined, prefix: "staging", allowOtherStack: false })!, /cannot tell which stack.*--allow-other-stack/);
  });

  it("--force is refused with the named overrides that replace it, one per check", () => {
    const text = forceRefusal();
    assert.match(text, /--force is no longer accepted/);
    for (const flag of Object.keys(RESTORE_OVERRIDES)) assert.match(text, new RegExp(`--${flag} \\(`));
    assert.deepEqual(Object.keys(RESTORE_OVERRIDES), ["allow-other-stack", "allow-unverified"]);
  });

  describe("the environment comes from the database container, then its stack; --environment only when neither says", () => {
    const env = (label: string | undefined, fallback: string | undefined, stated: "production" | "staging" | undefined) =>
      restoreEnvironment({ dbContainer: "slipway-production-db", label, stated, ...(fallback === undefined ? {} : { fallback: { environment: fallback, source: "stack \"production\"" } }) });

    it("a production-labelled container with --environment staging is refused, naming both", () => {
      const r = env("production", undefined, "staging");
      assert.ok("refuse" in r);
      assert.match(r.refuse, /--environment staging contradicts the database: database container 'slipway-production-db' is labelled slipway\.environment=production\. Nothing was changed/);
      assert.ok("refuse" in env(undefined, "production", "staging"), "the stack's word (no label yet) is refused the same way");
      assert.ok("refuse" in env("staging", undefined, "production"));
    });

    it("the label decides without --environment; a stated one that agrees is fine", () => {
      assert.deepEqual(env("production", undefined, undefined), { environment: "production", source: "database container 'slipway-production-db' is labelled slipway.environment=production" });
      assert.equal((env("staging", undefined, "staging") as { environment: string }).environment, "staging");
    });

    it("without the label (a container created before it), the stack says; production wins when label and stack differ", () => {
      assert.equal((env(undefined, "production", undefined) as { environment: string }).environment, "production");
      assert.match((env(undefined, "staging", undefined) as { source: string }).source, /stack "production" says environment staging/);
      assert.equal((env("staging", "production", undefined) as { environment: string }).environment, "production", "a stack switched to production keeps its container's older label");
      assert.equal((env("production", "staging", undefined) as { environment: string }).environment, "production");
    });

    it("neither label nor stack: --environment is required, and then taken", () => {
      const r = env(undefined, undefined, undefined);
      assert.ok("refuse" in r);
      assert.match(r.refuse, /carries no slipway\.environment label and belongs to no stack that names one: pass --environment production\|staging.*never guesses it from a name/);
      assert.equal((env(undefined, undefined, "production") as { environment: string }).environment, "production");
    });

    it("a label that is neither production nor staging is refused, not guessed", () => {
      assert.match((env("prod", undefined, undefined) as { refuse: string }).refuse, /slipway\.environment=prod, which is neither production nor staging/);
    });

    it("the stack a container belongs to, from its project and prefix labels", () => {
      assert.equal(stackOfLabels({ project: "slipway", stack: "slipway-staging" }), "staging");
      assert.equal(stackOfLabels({ project: "slipway", stack: "other-staging" }), undefined);
      assert.equal(stackOfLabels({ stack: "slipway-staging" }), undefined);
    });
  });

  it("takes database and user from the container's env unless given", () => {
    assert.deepEqual(databaseFromEnv(["POSTGRES_USER=app", "POSTGRES_DB=appdb", "X=a=b"], {}), { user: "app", database: "appdb" });
    assert.deepEqual(databaseFromEnv([], {}), { user: "postgres", database: "postgres" });
    assert.deepEqual(databaseFromEnv(["POSTGRES_USER=app"], {}), { user: "app", database: "app" });
    assert.deepEqual(databaseFromEnv(["POSTGRES_USER=app"], { database: "other" }), { user: "app", database: "other" });
  });
});
