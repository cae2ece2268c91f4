// The canary's pure decisions: weights for a share, the edge's access log read back, the gate.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { canaryWeights, figuresOf, judgeCanary, parseAccessLog } from "../../src/rollout/canary";

describe("canaryWeights", () => {
  for (const [share, stable, canaries] of [[5, 3, 1], [10, 3, 1], [25, 3, 1], [50, 3, 1], [50, 10, 1], [90, 10, 1], [1, 2, 2]] as const) {
    it(`${share} % to ${canaries} canary beside ${stable} stable: whole weights 1..256 within a point of the share`, () => {
      const w = canaryWeights(share, stable, canaries);
      for (const x of [w.stable, w.canary]) assert.ok(Number.isInteger(x) && x >= 1 && x <= 256, `${x}`);
      assert.ok(Math.abs(w.actual - share) < 1, `actual ${w.actual}`);
    });
  }
  it("refuses 0 and 100 % (not a canary)", () => {
    assert.throws(() => canaryWeights(0, 3, 1), /between 0 and 100/);
    assert.throws(() => canaryWeights(100, 3, 1), /between 0 and 100/);
  });
});

describe("parseAccessLog", () => {
  const log = [
    '{"time":"23/Nov/2026:13:00:00.001","client":"172.18.0.1","method":"GET","path":"/slow","status":200,"bytes":40,"ms":12,"backend":"api","server":"api1","retries":0,"request_id":"a","termination":"--"}',
    "[NOTICE]   (1) : haproxy version is 3.0",
    '{"time":"23/Nov/2026:13:00:00.002","client":"172.18.0.1","method":"POST","path":"/items","status":503,"bytes":40,"ms":3,"backend":"api","server":"api4","retries":0,"request_id":"b","termination":"--"}',
    '{"time":"23/Nov/2026:13:00:00.003","client":"172.18.0.1","method":"GET","path":"/metrics","status":404,"bytes":0,"ms":0,"backend":"http","server":"<NOSRV>","retries":0,"request_id":"c","termination":"PR"}',
    '{"time":"23/Nov/2026:13:00:00.0',
  ].join("\n");
  it("keeps the backend's request records, skips HAProxy messages, other backends and a cut line", () => {
    assert.deepEqual(parseAccessLog(log, "api"), [{ server: "api1", status: 200, ms: 12 }, { server: "api4", status: 503, ms: 3 }]);
  });
});

describe("judgeCanary", () => {
  const rules = { maxErrorRateIncrease: 1, maxP99Ratio: 2, minRequests: 20 };
  const records = (n: number, errors: number, ms: number) => Array.from({ length: n }, (_, i) => ({ server: "x", status: i < errors ? 500 : 200, ms }));
  it("passes a canary as good as the stable set, quoting both", () => {
    const v = judgeCanary(10, figuresOf(records(100, 0, 20)), figuresOf(records(900, 0, 20)), rules);
    assert.equal(v.pass, true);
    assert.match(v.summary, /^canary gate passed at 10 %: canary 100 requests, 0 × 5xx \(0\.0 %\), p99 20 ms; stable 900 requests/);
  });
  it("fails on 5xx beyond the stable rate + the allowed points", () => {
    const v = judgeCanary(10, figuresOf(records(100, 30, 20)), figuresOf(records(900, 9, 20)), rules);
    assert.equal(v.pass, false);
    assert.match(v.summary, /5xx rate 30\.0 % > stable 1\.0 % \+ 1 points/);
  });
  it("fails on p99 beyond the ratio, unless too few requests to have one", () => {
    assert.match(judgeCanary(10, figuresOf(records(100, 0, 100)), figuresOf(records(900, 0, 20)), rules).summary, /p99 100 ms > 2 × stable 20 ms/);
    const few = judgeCanary(10, figuresOf(records(5, 0, 100)), figuresOf(records(900, 0, 20)), rules);
    assert.equal(few.pass, true);
    assert.match(few.summary, /fewer than 20 canary requests: latency not judged/);
  });
  it("p99 is the 99th percentile, not the maximum", () => {
    const r = [...records(99, 0, 10), { server: "x", status: 200, ms: 5000 }];
    assert.equal(figuresOf(r).p99Ms, 10);
  });
});
