// Rollback targets and promotion checks, from stack histories as `pulumi stack history` reports them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPromotable, releases, rollbackTarget, ReleaseError, type HistoryEntry } from "../../src/release/history";

let clock = Date.parse("2026-11-01T00:00:00Z");
function entry(api: string | undefined, result = "succeeded", kind = "update"): HistoryEntry {
  clock += 60_000;
  const config: HistoryEntry["config"] = { "slipway:environment": { value: "staging", secret: false } };
  if (api) config["slipway:images"] = { value: JSON.stringify({ api, edge: "edge:1", postgres: "pg:17" }), secret: false };
  return { kind, result, startTime: new Date(clock).toISOString(), message: `deploy ${api}`, config };
}
// history() lists newest first
const newestFirst = (...entries: HistoryEntry[]) => entries.reverse();

test("releases keeps successful updates with images, newest first, whatever the input order", () => {
  const h = [entry("app:a"), entry("app:b", "failed"), entry("app:c", "succeeded", "refresh"), entry("app:d")];
  assert.deepEqual(releases(h).map((r) => r.images.api), ["app:d", "app:a"]);
  assert.deepEqual(releases(newestFirst(...h)).map((r) => r.images.api), ["app:d", "app:a"]);
});

test("rollback goes to the previous distinct API image", () => {
  const h = newestFirst(entry("app:1"), entry("app:2"), entry("app:2"), entry("app:3"));
  const { from, to } = rollbackTarget("staging", h);
  assert.equal(from.images.api, "app:3");
  assert.equal(to.images.api, "app:2");
  assert.equal(rollbackTarget("staging", h, 2).to.images.api, "app:1");
});

test("a failed deploy is not a release to roll back from or to", () => {
  const h = newestFirst(entry("app:1"), entry("app:2"), entry("app:3", "failed"));
  const { from, to } = rollbackTarget("staging", h);
  assert.equal(from.images.api, "app:2");
  assert.equal(to.images.api, "app:1");
});

test("rollback past the first release is refused with the count", () => {
  const h = newestFirst(entry("app:1"), entry("app:2"));
  assert.throws(() => rollbackTarget("production", h, 2), (e: Error) => e instanceof ReleaseError && /has 2 distinct release\(s\).*cannot go back 2/.test(e.message));
  assert.throws(() => rollbackTarget("production", []), /no successful deploy/);
  assert.throws(() => rollbackTarget("production", h, 0), /whole number >= 1/);
});

test("promotion needs a successful deploy of the same reference to the source stack", () => {
  const staging = newestFirst(entry("app:1"), entry("app:2", "failed"));
  assert.doesNotThrow(() => checkPromotable("app:1", "production", "staging", staging));
  assert.throws(() => checkPromotable("app:2", "production", "staging", staging), /never been deployed successfully to stack "staging".*--force/);
  assert.throws(() => checkPromotable("app:9", "production", "staging", []), ReleaseError);
});
