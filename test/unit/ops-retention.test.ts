// What the next backup deletes: retention by count and by age (per prefix), and stale .partial files
// (per prefix, by the time nobody has touched them); it touches nothing else.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HEARTBEAT_MS, selectForDeletion, selectStalePartials, STALE_PARTIAL_MS } from "../../src/backup/retention";

const files = [
  "production-20261120T010000Z-aaa.dump",
  "production-20261120T010000Z-aaa.dump.sha256",
  "production-20261120T010000Z-aaa.dump.verified.json",
  "production-20261122T010000Z-ccc.dump",
  "production-20261121T010000Z-bbb.dump",
  "production-20261123T010000Z-ddd.dump.partial",
  "production-eu-20261101T000000Z-zzz.dump",
  "staging-20261101T000000Z-old.dump",
  "README.txt",
];
const now = new Date("2026-11-23T02:00:00Z");

describe("selectForDeletion", () => {
  it("keeps the N newest of the stack, returns the rest oldest first", () => {
    assert.deepEqual(selectForDeletion(files, "production", { keep: 1, now }), ["production-20261120T010000Z-aaa.dump", "production-20261121T010000Z-bbb.dump"]);
    assert.deepEqual(selectForDeletion(files, "production", { keep: 2, now }), ["production-20261120T010000Z-aaa.dump"]);
    assert.deepEqual(selectForDeletion(files, "production", { keep: 3, now }), []);
  });

  it("also deletes what is older than maxAgeDays, however few remain", () => {
    // 2 days before `now` is 2026-11-21T02:00Z: bbb (01:00 that day) and aaa are older
    assert.deepEqual(selectForDeletion(files, "production", { keep: 10, maxAgeDays: 2, now }), ["production-20261120T010000Z-aaa.dump", "production-20261121T010000Z-bbb.dump"]);
    assert.deepEqual(selectForDeletion(files, "production", { keep: 10, maxAgeDays: 3, now }), ["production-20261120T010000Z-aaa.dump"]);
    // both limits: count removes aaa, bbb; age (1 day) removes ccc too → nothing of production is left but the caller's just-taken backup
    assert.deepEqual(selectForDeletion(files, "production", { keep: 2, maxAgeDays: 1, now }), [
      "production-20261120T010000Z-aaa.dump",
      "production-20261121T010000Z-bbb.dump",
      "production-20261122T010000Z-ccc.dump",
    ]);
    // exactly maxAgeDays old is kept
    assert.deepEqual(selectForDeletion(["s-20261121T020000Z-t.dump"], "s", { keep: 5, maxAgeDays: 2, now }), []);
  });

  it("never selects other stacks, even ones whose name starts the same", () => {
    assert.deepEqual(selectForDeletion(files, "production-eu", { keep: 1, now }), []);
    assert.deepEqual(selectForDeletion(files, "staging", { keep: 1, now }), []);
    assert.deepEqual(selectForDeletion(files, "prod", { keep: 1, maxAgeDays: 1, now }), []);
  });

  it("sorts by timestamp, not by name, and breaks ties deterministically", () => {
    const sameSecond = ["s-20261122T010000Z-b.dump", "s-20261122T010000Z-a.dump", "s-20261121T230000Z-z.dump"];
    assert.deepEqual(selectForDeletion(sameSecond, "s", { keep: 1, now }), ["s-20261121T230000Z-z.dump", "s-20261122T010000Z-a.dump"]);
  });

  it("keeps a spread: the newest of each of the last keepWeeks weeks beside the N newest, so quick deploys cannot rotate out last week's dump", () => {
    // Ten deploys today (one an hour) and one backup a week for five weeks before.
    const today = Array.from({ length: 10 }, (_, h) => `p-20261123T0${h}0000Z-d${h}.dump`);
    const daily = ["p-20261119T120000Z-w0.dump", "p-20261112T120000Z-w1.dump", "p-20261110T120000Z-w1old.dump", "p-20261105T120000Z-w2.dump", "p-20261029T120000Z-w3.dump", "p-20261022T120000Z-w4.dump"];
    const at = new Date("2026-11-23T10:00:00Z");
    const all = [...today, ...daily];
    // keep 3, no weeks: every weekly dump goes (the old behaviour)
    assert.deepEqual(selectForDeletion(all, "p", { keep: 3, now: at }).filter((f) => f.includes("-w")).length, daily.length);
    // keep 3 + 4 weeks (7-day windows back from now, as restic's --keep-weekly): week 0 (16–23 Nov 10:00) is served by
    // today's newest (so w0 goes), weeks 1–3 by w1 (not the older w1old), w2 and w3; w4 is beyond the 4 weeks
    const deleted = selectForDeletion(all, "p", { keep: 3, keepWeeks: 4, now: at });
    const kept = all.filter((f) => !deleted.includes(f)).sort();
    assert.deepEqual(kept, ["p-20261029T120000Z-w3.dump", "p-20261105T120000Z-w2.dump", "p-20261112T120000Z-w1.dump", "p-20261123T070000Z-d7.dump", "p-20261123T080000Z-d8.dump", "p-20261123T090000Z-d9.dump"]);
    // the age limit still wins over a weekly keep
    assert.ok(selectForDeletion(all, "p", { keep: 3, keepWeeks: 4, maxAgeDays: 8, now: at }).includes("p-20261112T120000Z-w1.dump"));
    assert.throws(() => selectForDeletion(all, "p", { keep: 1, keepWeeks: -1, now: at }), /keepWeeks must be a whole number ≥ 0/);
  });

  it("never deletes the newest proven dump, however many unproven ones came after it or however old it is", () => {
    const verified = new Set(["production-20261120T010000Z-aaa.dump"]);
    assert.deepEqual(selectForDeletion(files, "production", { keep: 1, verified, now }), ["production-20261121T010000Z-bbb.dump"]);
    assert.deepEqual(selectForDeletion(files, "production", { keep: 1, maxAgeDays: 1, verified, now }), ["production-20261121T010000Z-bbb.dump", "production-20261122T010000Z-ccc.dump"]);
    // a newer proven dump: the older proven one is an ordinary dump again
    const both = new Set([...verified, "production-20261121T010000Z-bbb.dump"]);
    assert.deepEqual(selectForDeletion(files, "production", { keep: 1, verified: both, now }), ["production-20261120T010000Z-aaa.dump"]);
  });

  it("refuses to keep fewer than one, or a fractional age", () => {
    assert.throws(() => selectForDeletion(files, "production", { keep: 0, now }), /keep must be a whole number ≥ 1/);
    assert.throws(() => selectForDeletion(files, "production", { keep: 1.5, now }), /keep/);
    assert.throws(() => selectForDeletion(files, "production", { keep: 1, maxAgeDays: 0.5, now }), /maxAgeDays must be a whole number ≥ 1/);
  });
});

describe("selectStalePartials", () => {
  const t = Date.parse("2026-11-23T02:00:00Z");
  const entries = [
    { name: "production-20261123T010000Z-ddd.dump.partial", mtimeMs: t - STALE_PARTIAL_MS }, // stale: untouched 10 min
    { name: "production-20261123T015500Z-eee.dump.partial", mtimeMs: t - STALE_PARTIAL_MS + 1 }, // a running backup's
    { name: "production-20261123T010000Z-ddd.dump.sha256.partial", mtimeMs: t - 3_600_000 },
    { name: "production-20261123T010000Z-ddd.dump.verified.json.partial", mtimeMs: t - 3_600_000 },
    { name: "production-eu-20261123T010000Z-x.dump.partial", mtimeMs: 0 }, // another stack's
    { name: "production-20261120T010000Z-aaa.dump", mtimeMs: 0 }, // finished
    { name: "notes.partial", mtimeMs: 0 }, // not a backup's
  ];

  it("selects this prefix's .partial files (dumps and companions) untouched for STALE_PARTIAL_MS", () => {
    assert.deepEqual(selectStalePartials(entries, "production", t), [
      "production-20261123T010000Z-ddd.dump.partial",
      "production-20261123T010000Z-ddd.dump.sha256.partial",
      "production-20261123T010000Z-ddd.dump.verified.json.partial",
    ]);
    assert.deepEqual(selectStalePartials(entries, "production-eu", t), ["production-eu-20261123T010000Z-x.dump.partial"]);
  });

  it("gives a running backup many heartbeats of slack", () => {
    assert.ok(STALE_PARTIAL_MS >= 10 * HEARTBEAT_MS, `${STALE_PARTIAL_MS} vs heartbeat ${HEARTBEAT_MS}`);
  });
});
