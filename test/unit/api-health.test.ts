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
