// Releases and the rollback chain, from stack histories as `pulumi stack history --json` reports them:
// positions, what counts as a release, where rollback (default, --steps, --to) goes, refusals, promotion.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkPromotable,
  promotionSource,
  releases,
  restorePlan,
  rollbackTarget,
  ReleaseError,
  updates,
  type HistoryEntry,
} from "../../src/release/history";

/** A stack's history being written: newest first, as the CLI lists it. */
class History {
  entries: HistoryEntry[] = [];
  private clock = Date.parse("2026-11-01T00:00:00Z");

  /** An update with this API image and `slipway:api` (default: 2 replicas). */
  deploy(api: string, opts: { result?: string; kind?: string; apiConfig?: Record<string, unknown>; edge?: string; message?: string; sameSecond?: boolean } = {}): this {
    if (!opts.sameSecond) this.clock += 60_000;
    const apiConfig = opts.apiConfig ?? { replicas: 2 };
    const images = { api, edge: opts.edge ?? "edge:1", postgres: "pg:17" };
    this.entries.unshift({
      version: 0,
      kind: opts.kind ?? "update",
      result: opts.result ?? "succeeded",
      startTime: new Date(this.clock).toISOString(),
      message: opts.message ?? `promote ${api}`,
      config: {
        "slipway:environment": { value: "staging", secret: false },
        "slipway:images": { value: JSON.stringify(images), objectValue: images, secret: false },
        "slipway:api": { value: JSON.stringify(apiConfig), objectValue: apiConfig, secret: false },
        "slipway:secretEnv": { secret: true },
      },
    });
    return this;
  }

  /** What the rollback verb would record: the target's image and slipway:api, with its message. */
  rollback(choice: Parameters<typeof rollbackTarget>[2] = {}): { to: number; image: string } {
    const { from, to } = rollbackTarget("staging", this.entries, choice);
    const plan = restorePlan("staging", from, to);
    this.deploy(plan.apiImage, { apiConfig: plan.api.objectValue as Record<string, unknown>, edge: from.images.edge, message: plan.message });
    return { to: to.position, image: to.images.api };
  }
}

test("updates: every entry with a stable position (1 = first), whatever the input order; releases are the successful updates", () => {
  const h = new History().deploy("app:a").deploy("app:b", { result: "failed" }).deploy("app:c", { kind: "refresh" }).deploy("app:d");
  assert.deepEqual(updates(h.entries).map((u) => [u.position, u.kind, u.result, u.images?.api]), [
    [1, "update", "succeeded", "app:a"],
    [2, "update", "failed", "app:b"],
    [3, "refresh", "succeeded", "app:c"],
    [4, "update", "succeeded", "app:d"],
  ]);
  assert.deepEqual(updates([...h.entries].reverse()).map((u) => u.position), [1, 2, 3, 4]);
  assert.deepEqual(releases(h.entries).map((r) => [r.position, r.images.api]), [[4, "app:d"], [1, "app:a"]]);
});

test("updates in the same second keep the CLI's order (newest first); a backend's version numbers win", () => {
  const h = new History().deploy("app:1").deploy("app:2", { sameSecond: true }).deploy("app:3", { sameSecond: true });
  assert.deepEqual(updates(h.entries).map((u) => u.images?.api), ["app:1", "app:2", "app:3"]);
  const numbered = h.entries.map((e, i) => ({ ...e, version: 10 - i, startTime: "2026-11-01T00:00:00Z" }));
  assert.deepEqual(updates(numbered).map((u) => [u.position, u.images?.api]), [[8, "app:1"], [9, "app:2"], [10, "app:3"]]);
});

// Table: a history, then rollbacks one after another (each recorded as the verb records it).
const chains: { name: string; build: (h: History) => void; expect: (number | string)[] }[] = [
  { name: "v1 → v2 → v3: rollback twice goes two releases back, then nothing earlier", build: (h) => h.deploy("v1").deploy("v2").deploy("v3"), expect: [2, 1, "nothing earlier"] },
  { name: "a config-only release (replicas) is a release", build: (h) => h.deploy("v1").deploy("v2").deploy("v2", { apiConfig: { replicas: 3 } }), expect: [2, 1, "nothing earlier"] },
  { name: "an env change is a release", build: (h) => h.deploy("v1").deploy("v1", { apiConfig: { replicas: 2, env: { FLAG: "on" } } }), expect: [1, "nothing earlier"] },
  { name: "an edge-only change or a re-run is not a release of its own", build: (h) => h.deploy("v1").deploy("v2").deploy("v2", { edge: "edge:2" }).deploy("v2").deploy("v3"), expect: [4, 1, "nothing earlier"] },
  { name: "failed updates and refreshes are skipped", build: (h) => h.deploy("v1").deploy("v2").deploy("v3", { result: "failed" }).deploy("v2", { kind: "refresh" }), expect: [1, "nothing earlier"] },
  { name: "a deploy after a rollback: back to the rolled-back-to release, then further", build: (h) => { h.deploy("v1").deploy("v2").deploy("v3"); h.rollback(); h.deploy("v4"); }, expect: [4, 1, "nothing earlier"] },
  { name: "an edge change right after a rollback does not break the chain", build: (h) => { h.deploy("v1").deploy("v2").deploy("v3"); h.rollback(); h.deploy("v2", { edge: "edge:2" }); }, expect: [1, "nothing earlier"] },
  { name: "the same tag with another image ID is another release", build: (h) => h.deploy("app:latest", { message: `promote app:latest (image sha256:${"a".repeat(64)})` }).deploy("app:latest", { message: `promote app:latest (image sha256:${"b".repeat(64)})` }), expect: [1, "nothing earlier"] },
  { name: "a manual redeploy of an older image is a release like any other", build: (h) => h.deploy("v1").deploy("v2").deploy("v1"), expect: [2, 1, "nothing earlier"] },
];

for (const c of chains) {
  test(`chain: ${c.name}`, () => {
    const h = new History();
    c.build(h);
    const got: (number | string)[] = [];
    for (let i = 0; i < c.expect.length; i++) {
      try {
        got.push(h.rollback().to);
      } catch (e) {
        assert.ok(e instanceof ReleaseError, String(e));
        got.push(/nothing earlier/.test(e.message) ? "nothing earlier" : e.message);
        break;
      }
    }
    assert.deepEqual(got, c.expect);
  });
}

test("chain: the images restored along v1 → v2 → v3 → rollback → rollback are v2 then v1", () => {
  const h = new History().deploy("v1").deploy("v2").deploy("v3");
  assert.equal(h.rollback().image, "v2");
  assert.equal(h.rollback().image, "v1");
  assert.match(h.entries[0]!.message!, /^rollback to #1 v1/);
});

test("--steps goes n releases back along the chain; too far is refused with the count", () => {
  const h = new History().deploy("v1").deploy("v2").deploy("v3");
  assert.equal(rollbackTarget("staging", h.entries, { steps: 2 }).to.images.api, "v1");
  assert.throws(() => rollbackTarget("staging", h.entries, { steps: 3 }), /has 2 release\(s\) to go back to.*cannot go back 3/);
  assert.throws(() => rollbackTarget("staging", h.entries, { steps: 0 }), /whole number >= 1/);
  h.rollback(); // now on v2 via #4 → rollback to #2
  assert.equal(rollbackTarget("staging", h.entries, { steps: 1 }).to.images.api, "v1");
});

test("--to restores exactly that position, and the chain continues from it", () => {
  const h = new History().deploy("v1").deploy("v2").deploy("v3");
  assert.deepEqual(h.rollback({ to: 1 }), { to: 1, image: "v1" });
  assert.throws(() => h.rollback(), /nothing earlier to roll back to on stack "staging": the running release #4 .* restored #1 .*its first release/);
  // Forward again to a newer release with --to, then the chain goes back from that one.
  assert.deepEqual(h.rollback({ to: 3 }), { to: 3, image: "v3" });
  assert.deepEqual(h.rollback(), { to: 2, image: "v2" });
});

test("--to refusals: unknown position, a failed update, a refresh, the running release, with --steps", () => {
  const h = new History().deploy("v1").deploy("v2", { result: "failed" }).deploy("v1", { kind: "refresh" }).deploy("v3");
  assert.throws(() => rollbackTarget("production", h.entries, { to: 9 }), /no update #9 \(its history has #1–#4\).*--list/);
  assert.throws(() => rollbackTarget("production", h.entries, { to: 2 }), /#2 of stack "production" is an update that failed, not a release/);
  assert.throws(() => rollbackTarget("production", h.entries, { to: 3 }), /#3 of stack "production" is a refresh/);
  assert.throws(() => rollbackTarget("production", h.entries, { to: 4 }), /#4 is the release running now/);
  assert.throws(() => rollbackTarget("production", h.entries, { to: 1, steps: 1 }), /either --to or --steps/);
  assert.equal(rollbackTarget("production", h.entries, { to: 1 }).to.images.api, "v1");
});

test("--to the running API release is allowed with --with-edge when the edge differs", () => {
  const h = new History().deploy("v1", { edge: "edge:1" }).deploy("v1", { edge: "edge:2" });
  assert.throws(() => rollbackTarget("staging", h.entries, { to: 1 }), /running now/);
  assert.equal(rollbackTarget("staging", h.entries, { to: 1, withEdge: true }).to.images.edge, "edge:1");
});

test("nothing to roll back: no history, no success, one release", () => {
  assert.throws(() => rollbackTarget("production", []), /has no successful deploy/);
  assert.throws(() => rollbackTarget("production", new History().deploy("v1", { result: "failed" }).entries), /has no successful deploy/);
  assert.throws(() => rollbackTarget("production", new History().deploy("v1").entries), (e: Error) => e instanceof ReleaseError && /nothing earlier.*#1 \(v1, "promote v1"\) is its first release/.test(e.message));
});

test("a message that names a later or the same position is not a chain link", () => {
  const h = new History().deploy("v1").deploy("v2").deploy("v3", { message: "rollback to #3 v3" });
  assert.equal(updates(h.entries)[2]!.restored, undefined);
  assert.equal(rollbackTarget("staging", h.entries).to.images.api, "v2");
});

test("promotion needs a successful deploy of the same reference to the source stack", () => {
  const staging = new History().deploy("app:1").deploy("app:2", { result: "failed" }).entries;
  assert.doesNotThrow(() => checkPromotable("app:1", "production", "staging", staging));
  assert.throws(() => checkPromotable("app:2", "production", "staging", staging), /never been deployed successfully to stack "staging".*--force/);
  assert.throws(() => checkPromotable("app:9", "production", "staging", []), ReleaseError);
});

test("promotion: a staging deploy whose smoke test failed and was rolled back does not count; a later good deploy does", () => {
  const h = new History().deploy("app:1").deploy("app:2");
  h.rollback(); // CI: app:2's smoke test failed, rolled back to app:1
  assert.throws(() => checkPromotable("app:2", "production", "staging", h.entries), /app:2 ran on stack "staging" \(#2\) but was rolled back \(#3 "rollback to #1 app:1"\), so it does not count.*--force/);
  assert.doesNotThrow(() => checkPromotable("app:1", "production", "staging", h.entries), "what it went back to ran");
  h.deploy("app:2"); // fixed elsewhere (e.g. the database), deployed again, and it stayed
  assert.doesNotThrow(() => checkPromotable("app:2", "production", "staging", h.entries));
  // Superseded normally (no rollback after it): still counts.
  assert.doesNotThrow(() => checkPromotable("app:1", "production", "staging", new History().deploy("app:1").deploy("app:3").entries));
});

test("promotion: the staging-first gate follows slipway:environment, not the stack's name", () => {
  assert.equal(promotionSource("acme/production", "production"), "acme/staging");
  assert.equal(promotionSource("prod-eu", "production"), "staging");
  assert.equal(promotionSource("production", "staging"), undefined, "a stack called production that is staging has no gate");
  assert.equal(promotionSource("staging", "staging"), undefined);
  assert.equal(promotionSource("acme/production", "production", "qa"), "qa", "--from wins");
  assert.throws(() => promotionSource("acme/production", undefined), /stack "acme\/production" names no slipway:environment in Pulumi\.production\.yaml.*--from/);
});
