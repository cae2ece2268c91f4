// The stack lock's decisions (src/docker/stack-lock.ts), pure: who may go ahead, who waits, what is stale, and the
// refusal naming the holder.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeHolder, holderLabels, holderOfLabels, lockDecision, type LockHolder } from "../../src/docker/stack-lock";

const now = new Date("2026-12-06T04:30:00Z");
const deploy: LockHolder = { holder: "deploy", pid: 4242, host: "ci-3", since: new Date("2026-12-06T04:29:00Z"), engine: 4200 };
const decide = (over: Partial<Parameters<typeof lockDecision>[0]> = {}) =>
  lockDecision({ holder: deploy, self: { host: "ci-3", ancestors: [77, 1] }, alive: () => true, now, waitedMs: 0, waitMs: 600_000, staleAfterMs: 6 * 3_600_000, name: "slipway-production-lock", ...over });

describe("stack lock", () => {
  it("the holder's labels round-trip, and describe who holds it", () => {
    assert.deepEqual(holderOfLabels(holderLabels(deploy)), deploy);
    const { engine: _, ...restore } = { ...deploy, holder: "restore" };
    assert.deepEqual(holderOfLabels(holderLabels(restore)), restore);
    assert.equal(holderOfLabels({ "slipway.lock.holder": "deploy" }), undefined, "unreadable: no pid, no time");
    assert.equal(describeHolder(deploy, now), "deploy (pid 4242 on ci-3, since 2026-12-06T04:29:00.000Z, 60 s ago)");
  });

  it("another holder alive: wait within the budget, then refuse naming it and what to do", () => {
    assert.deepEqual(decide(), { action: "wait" });
    const r = decide({ waitedMs: 600_000 });
    assert.equal(r.action, "refuse");
    assert.match((r as { why: string }).why, /^stack lock slipway-production-lock is held by deploy \(pid 4242 on ci-3, since .*\); waited 600 s\. Retry when it has finished \(or raise --stack-lock-wait\); if that process is gone for good, `docker rm slipway-production-lock`/);
    assert.equal(decide({ waitMs: 0 }).action, "refuse", "--stack-lock-wait 0 refuses at once");
    assert.equal(decide({ self: { host: "laptop", ancestors: [4242] } }).action, "wait", "a pid on another host is not ours");
  });

  it("a process the holder started goes ahead inside its lock: the deploy's own backup step, restore's own pulumi up", () => {
    assert.deepEqual(decide({ self: { host: "ci-3", ancestors: [900, 4200, 1] } }), { action: "inside" }, "a child of the deploy's engine");
    assert.deepEqual(decide({ holder: { ...deploy, holder: "restore", engine: undefined }, self: { host: "ci-3", ancestors: [800, 4242] } }), { action: "inside" }, "a grandchild of the restore verb");
  });

  it("stale: a dead holder on this host at once, any holder after staleAfter, and a lock without readable labels", () => {
    assert.equal(decide({ alive: () => false }).action, "stale");
    assert.match((decide({ alive: () => false }) as { why: string }).why, /its holder, deploy \(pid 4242 on ci-3.*\), is no longer running/);
    assert.equal(decide({ self: { host: "laptop", ancestors: [] }, alive: () => false }).action, "wait", "another host's pid cannot be checked from here");
    assert.equal(decide({ self: { host: "laptop", ancestors: [] }, now: new Date("2026-12-06T11:00:00Z") }).action, "stale");
    assert.equal(decide({ holder: undefined }).action, "stale");
  });
});
