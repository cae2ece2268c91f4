// The verbs' argument parser: required flags, numbers, --help, usage text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { intFlag, parseVerbArgs, usage, UsageError, VerbSpec } from "../../src/cli/args";

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

  it("prints a synopsis with required flags bare and optional ones bracketed", () => {
    assert.match(usage(spec), /usage: npm run backup -- --stack <stack> \[--keep <n>\] \[--yes\]/);
  });
});
