// The verbs' argument parser: required flags, numbers, --help, usage text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { intFlag, MAX_FLAG_LENGTH, parseVerbArgs, usage, UsageError, valueProblem, VerbSpec } from "../../src/cli/args";

const spec: VerbSpec = {
  name: "backup",
  summary: "Back up.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "the stack", required: true },
    keep: { type: "string", value: "<n>", description: "how many" },
    yes: { type: "boolean", description: "no questions" },
  },
};

describe("cli args", () => {
  it("parses flags and --help", () => {
    assert.deepEqual(parseVerbArgs(["--stack", "staging", "--yes"], spec), { stack: "staging", yes: true });
    assert.equal(parseVerbArgs(["--help"], spec), undefined);
  });

  it("names the missing or unknown flag", () => {
    assert.throws(() => parseVerbArgs([], spec), (e: Error) => e instanceof UsageError && /missing --stack <stack>/.test(e.message));
    assert.throws(() => parseVerbArgs(["--stack", "s", "--nope"], spec), (e: Error) => e instanceof UsageError && /--nope/.test(e.message));
  });

  it("reads whole numbers with a floor", () => {
    assert.equal(intFlag({ keep: "3" }, "keep", 7, 1), 3);
    assert.equal(intFlag({}, "keep", 7, 1), 7);
    assert.throws(() => intFlag({ keep: "0" }, "keep", 7, 1), /--keep must be a whole number ≥ 1, got '0'/);
    assert.throws(() => intFlag({ keep: "2x" }, "keep", 7, 1), /--keep/);
  });

  it("refuses hostile values before any verb runs, naming the flag", () => {
    for (const stack of ["a;touch /tmp/x", "$(id)", "`id`", "a|b", "../etc", "a/b", " lead"]) {
      assert.throws(() => parseVerbArgs(["--stack", stack], spec), (e: Error) => e instanceof UsageError && /^--stack: '.*' is not a name/.test(e.message), stack);
    }
    assert.throws(() => parseVerbArgs(["--stack", "s".repeat(MAX_FLAG_LENGTH + 1)], spec), /--stack: too long \(1025 characters; at most 1024\)/);
    assert.throws(() => parseVerbArgs(["--stack", "st\u0000aging"], spec), /--stack: contains control characters/);
    assert.equal(valueProblem("dir", "/var/backups/../../etc"), "'/var/backups/../../etc' has a '..' segment; give the path without it (e.g. absolute)");
    assert.equal(valueProblem("file", "/var/backups/slipway-production-20261205T000000Z-abc.dump"), undefined);
    assert.equal(valueProblem("message", "Back soon; really (maybe)"), undefined, "free text keeps its punctuation");
    assert.throws(() => intFlag({ keep: "99999999999999999999" }, "keep", 7, 1), /--keep must be a whole number ≥ 1 and ≤ 9007199254740991/);
  });

  it("prints a synopsis with required flags bare and optional ones bracketed", () => {
    assert.match(usage(spec), /usage: npm run backup -- --stack <stack> \[--keep <n>\] \[--yes\]/);
  });
});

describe("one declaration per verb: the command line a caller builds is the one the verb parses", () => {
  it("every flag of the backup verb round-trips through backupVerb and the verb's own parser", async () => {
    const { BACKUP_VERB, backupVerb } = await import("../../src/backup/verb");
    const argv = backupVerb({
      stack: "slipway-production", dbContainer: "c", dir: "/d", keep: 3, keepWeeks: 2, maxAgeDays: 30, verify: true, copyTo: "sftp:b",
      imageTag: "3f2a9c1", pushgateway: "p", database: "app", user: "app", stackLockWait: 30, overlay: "slipway-production-backend",
    });
    assert.deepEqual(argv.slice(0, 4), ["node", "--import", "tsx", "src/cli/backup.ts"]);
    const values = parseVerbArgs(argv.slice(4), BACKUP_VERB);
    assert.deepEqual(values, {
      stack: "slipway-production", "db-container": "c", dir: "/d", keep: "3", "keep-weeks": "2", "max-age-days": "30", verify: true, "copy-to": "sftp:b",
      "image-tag": "3f2a9c1", pushgateway: "p", database: "app", user: "app", "stack-lock-wait": "30", overlay: "slipway-production-backend",
    });
    assert.equal(Object.keys(values!).length, Object.keys(BACKUP_VERB.flags).length, "every declared flag was passed");
  });

  it("every flag of the status and rollback verbs round-trips through statusVerb / rollbackVerb and the verb's own parser", async () => {
    const { STATUS_VERB, statusVerb } = await import("../../src/status/verb");
    const status = statusVerb({ stack: "staging", json: true, deploys: 3 });
    assert.deepEqual(status.slice(0, 4), ["node", "--import", "tsx", "src/cli/status.ts"]);
    assert.deepEqual(parseVerbArgs(status.slice(4), STATUS_VERB), { stack: "staging", json: true, deploys: "3" });
    const { ROLLBACK_VERB, rollbackVerb } = await import("../../src/release/rollback-verb");
    const rollback = rollbackVerb({ stack: "production", list: true, to: 3, steps: 2, reason: "checkout broke", withEdge: true, dryRun: true });
    assert.deepEqual(rollback.slice(0, 4), ["node", "--import", "tsx", "src/cli/rollback.ts"]);
    const values = parseVerbArgs(rollback.slice(4), ROLLBACK_VERB);
    assert.deepEqual(values, { stack: "production", list: true, to: "3", steps: "2", reason: "checkout broke", "with-edge": true, "dry-run": true });
    assert.equal(Object.keys(values!).length, Object.keys(ROLLBACK_VERB.flags).length, "every declared flag was passed");
    assert.deepEqual(statusVerb({ stack: "staging", json: false }).slice(4), ["--stack", "staging"], "a false boolean is left out");
  });

  it("a flag the verb does not declare cannot be passed", async () => {
    const { BACKUP_VERB } = await import("../../src/backup/verb");
    const { verbArgv } = await import("../../src/cli/args");
    assert.throws(() => verbArgv(BACKUP_VERB.flags, { stack: "s", dbContainer: "c", dir: "/d", keepp: 3 } as never), /no such flag: keepp/);
  });
});
