// Unit tests for parsing /slow?ms=N (src/api/slow.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSlowMs, SLOW_DEFAULT_MS, SLOW_MAX_MS } from "../../src/api/slow";

const cases: Array<[unknown, number | "error"]> = [
  [undefined, SLOW_DEFAULT_MS],
  ["", SLOW_DEFAULT_MS],
  ["0", 0],
  ["250", 250],
  [" 42 ", 42],
  ["10000", SLOW_MAX_MS],
  ["999999", SLOW_MAX_MS],
  [["5", "7"], 7],
  ["-1", "error"],
  ["1.5", "error"],
  ["abc", "error"],
  ["1e3", "error"],
  [{}, "error"],
];

for (const [raw, expected] of cases) {
  test(`parseSlowMs(${JSON.stringify(raw)}) -> ${expected}`, () => {
    const parsed = parseSlowMs(raw);
    if (expected === "error") {
      assert.equal(parsed.ok, false);
    } else {
      assert.deepEqual(parsed, { ok: true, ms: expected });
    }
  });
}
