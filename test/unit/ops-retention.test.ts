// Retention keeps the N newest finished backups per stack and touches nothing else.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { selectForDeletion } from "../../src/ops/retention";

const files = [
  "production-20261120T010000Z-aaa.dump",
  "production-20261120T010000Z-aaa.dump.sha256",
  "production-20261122T010000Z-ccc.dump",
  "production-20261121T010000Z-bbb.dump",
  "production-20261123T010000Z-ddd.dump.partial",
  "production-eu-20261101T000000Z-zzz.dump",
  "staging-20261101T000000Z-old.dump",
  "README.txt",
];

describe("selectForDeletion", () => {
  it("keeps the N newest of the stack, returns the rest oldest first", () => {
    assert.deepEqual(selectForDeletion(files, 1, "production"), ["production-20261120T010000Z-aaa.dump", "production-20261121T010000Z-bbb.dump"]);
    assert.deepEqual(selectForDeletion(files, 2, "production"), ["production-20261120T010000Z-aaa.dump"]);
    assert.deepEqual(selectForDeletion(files, 3, "production"), []);
  });

  it("never selects other stacks, even ones whose name starts the same", () => {
    assert.deepEqual(selectForDeletion(files, 1, "production-eu"), []);
    assert.deepEqual(selectForDeletion(files, 1, "staging"), []);
    assert.deepEqual(selectForDeletion(files, 1, "prod"), []);
  });

  it("sorts by timestamp, not by name, and breaks ties deterministically", () => {
    const sameSecond = ["s-20261122T010000Z-b.dump", "s-20261122T010000Z-a.dump", "s-20261121T230000Z-z.dump"];
    assert.deepEqual(selectForDeletion(sameSecond, 1, "s"), ["s-20261121T230000Z-z.dump", "s-20261122T010000Z-a.dump"]);
  });

  it("refuses to keep fewer than one", () => {
    assert.throws(() => selectForDeletion(files, 0, "production"), /keep must be a whole number ≥ 1/);
    assert.throws(() => selectForDeletion(files, 1.5, "production"), /keep/);
  });
});
