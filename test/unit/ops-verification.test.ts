// Verification by restore, the pure parts: the psql scripts (counts in pg_dump's snapshot), reading the
// counts back, comparing them, what a record means, and what restore does with it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countedDumpScript, countRowsScript, parseCounts, psqlScript } from "../../src/postgres/commands";
import { verificationDecision } from "../../src/restore/policy";
import { compareCounts, formatRecord, parseRecord, VerificationRecord, verificationState } from "../../src/backup/proof-record";

const db = { database: "app", user: "app" };
const record: VerificationRecord = {
  version: 1,
  dump: "s-20261122T010000Z-t.dump",
  sha256: "a".repeat(64),
  ok: true,
  verifiedAt: "2026-11-22T01:00:10.000Z",
  image: "sha256:img",
  imageName: "postgres:17",
  sourceCounts: { "public.items": 3 },
  restoredCounts: { "public.items": 3 },
  problems: [],
  restoreSeconds: 1.5,
  seconds: 6,
};

describe("counted dump script", () => {
  it("exports a snapshot, counts in it, dumps with it, and only then commits", () => {
    const lines = countedDumpScript(db).split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const order = [/^\\o \/dev\/stderr$/, /^BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;$/, /pg_export_snapshot\(\) AS slipway_snapshot \\gset$/, /\\gexec$/, /^\\setenv SLIPWAY_SNAPSHOT :slipway_snapshot$/, /^\\! pg_dump --format=custom --compress=1 --username app --dbname app --snapshot="\$SLIPWAY_SNAPSHOT"; echo "slipway-pg_dump-exit=\$\?" >&2$/, /^COMMIT;$/];
    const positions = order.map(at);
    assert.ok(positions.every((p) => p >= 0), `all steps present: ${positions}`);
    assert.deepEqual([...positions].sort((a, b) => a - b), positions, "in this order");
    assert.deepEqual(psqlScript(db), ["psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--username", "app", "--dbname", "app"]);
  });

  it("quotes role and database names for the shell that runs pg_dump", () => {
    assert.match(countedDumpScript({ database: "my db", user: "o'neil" }), /pg_dump --format=custom --compress=1 --username 'o'\\''neil' --dbname 'my db' --snapshot=/);
  });

  it("counts ordinary tables and partitions only, outside system schemas and extensions", () => {
    const sql = countRowsScript();
    assert.match(sql, /c\.relkind = 'r'/);
    assert.match(sql, /c\.relpersistence <> 't'/);
    assert.match(sql, /deptype = 'e'/);
    assert.match(sql, /\\gexec\n$/);
  });

  it("reads the counts line, and nothing that is not one", () => {
    assert.deepEqual(parseCounts('NOTICE: x\nslipway-counts { "public.items" : 3, "s.\\"T\\"" : 0 }\n'), { "public.items": 3, 's."T"': 0 });
    assert.deepEqual(parseCounts("slipway-counts {}"), {});
    for (const bad of ["", "slipway-counts", "slipway-counts [1]", 'slipway-counts {"a": 1.5}', 'slipway-counts {"a": "1"}', "counts {}"]) assert.equal(parseCounts(bad), undefined, bad);
  });
});

describe("counts and records", () => {
  it("names every difference: missing tables, other counts, new tables", () => {
    assert.deepEqual(compareCounts({ a: 1, b: 2 }, { a: 1, b: 2 }), []);
    assert.deepEqual(compareCounts({ a: 1, b: 2, c: 0 }, { a: 1, b: 3, d: 4 }), [
      "table b: 2 rows at dump time, 3 after the restore",
      "table c (0 rows at dump time) is missing after the restore",
      "table d appeared after the restore (4 rows) but was not counted at dump time",
    ]);
  });

  it("round-trips a record and tells verified, failed and never verified apart", () => {
    const text = formatRecord(record);
    assert.deepEqual(parseRecord(text), record);
    assert.equal(verificationState(text, record.dump, record.sha256).state, "verified");
    assert.equal(verificationState(formatRecord({ ...record, ok: false, problems: ["x"] }), record.dump, record.sha256).state, "failed");
    const never = (t: string | undefined, dump = record.dump, sha = record.sha256) => {
      const s = verificationState(t, dump, sha);
      return s.state === "never" ? s.why : s.state;
    };
    assert.match(never(undefined), /no verification record/);
    assert.match(never("{not json"), /unreadable/);
    assert.match(never(JSON.stringify({ ...record, version: 2 })), /unreadable/);
    assert.match(never(text, record.dump, "b".repeat(64)), /vouches for another file/);
    assert.match(never(text, "s-20261122T010000Z-other.dump"), /vouches for another file \(s-20261122T010000Z-t\.dump/);
  });
});

describe("restore and verification", () => {
  const failed = { state: "failed" as const, record: { verifiedAt: "2026-11-22T01:00:10.000Z", problems: ["table a: 1 rows at dump time, 0 after the restore"] } };
  const never = { state: "never" as const, why: "it has no verification record" };

  it("production refuses what was never verified or failed, unless --allow-unverified; elsewhere it warns", () => {
    assert.deepEqual(verificationDecision({ state: { state: "verified" }, production: true, allowUnverified: false }), {});
    assert.match(verificationDecision({ state: never, production: true, allowUnverified: false }).refuse!, /never verified by a restore: it has no verification record\. .*--verify.*--allow-unverified/);
    assert.match(verificationDecision({ state: failed, production: true, allowUnverified: false }).refuse!, /FAILED its verification on 2026-11-22T01:00:10\.000Z: table a/);
    assert.match(verificationDecision({ state: never, production: true, allowUnverified: true }).warn!, /^warning: .*because of --allow-unverified\)$/);
    assert.match(verificationDecision({ state: failed, production: false, allowUnverified: false }).warn!, /^warning: it FAILED/);
    assert.equal(verificationDecision({ state: never, production: false, allowUnverified: false }).refuse, undefined);
  });
});
