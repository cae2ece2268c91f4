// Unit tests for the /health decision (src/api/health.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { healthReport } from "../../src/api/health";

test("all checks ok: 200 with version and check summary", () => {
  assert.deepEqual(healthReport("v1", { db: { ok: true } }, false), {
    statusCode: 200,
    body: { status: "ok", version: "v1", checks: { db: "ok" } },
  });
});

test("a failing check: 503 naming it and its error", () => {
  const report = healthReport("v1", { db: { ok: false, error: "connection refused" } }, false);
  assert.equal(report.statusCode, 503);
  assert.deepEqual(report.body, {
    status: "fail",
    version: "v1",
    checks: { db: "fail" },
    failing: ["db"],
    errors: { db: "connection refused" },
  });
});

test("draining wins over healthy checks", () => {
  assert.deepEqual(healthReport("v2", { db: { ok: true } }, true), {
    statusCode: 503,
    body: { status: "draining", version: "v2" },
  });
});

test("no checks at all is healthy", () => {
  assert.equal(healthReport("v1", {}, false).statusCode, 200);
});

test("walArchive: no check while the database does not archive; ok after a success; failing names the segment and since when", async () => {
  const { walArchiveCheck, walArchiveFailing } = await import("../../src/api/health");
  const t = (s: string) => new Date(s);
  const base = { mode: "on", failedCount: 0, lastArchived: null, lastFailed: null, lastFailedWal: null };
  assert.equal(walArchiveCheck({ ...base, mode: "off", failedCount: 3, lastFailed: t("2026-12-05T14:00:00Z") }), undefined);
  assert.deepEqual(walArchiveCheck(base), { ok: true }, "nothing archived yet, nothing failed");
  // a failure that a later success fixed is history, not a failing archive
  assert.deepEqual(walArchiveCheck({ ...base, failedCount: 2, lastFailed: t("2026-12-05T14:00:00Z"), lastArchived: t("2026-12-05T14:01:00Z") }), { ok: true });
  const failing = { ...base, failedCount: 7, lastFailed: t("2026-12-05T14:02:00Z"), lastArchived: t("2026-12-05T14:01:00Z"), lastFailedWal: "000000010000000000000004" };
  assert.equal(walArchiveFailing(failing), true);
  assert.deepEqual(walArchiveCheck(failing), {
    ok: false,
    error: "archiving WAL fails: 000000010000000000000004 failed at 2026-12-05T14:02:00.000Z (7 failures; last archived segment at 2026-12-05T14:01:00.000Z)",
  });
  assert.match((walArchiveCheck({ ...failing, lastArchived: null }) as { error: string }).error, /no segment archived yet/);
});
