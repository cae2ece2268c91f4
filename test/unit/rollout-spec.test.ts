// Tests of the replica spec: revision hashing and the exact Docker create request for one replica.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createOptions, ReplicaSpec, revisionOfSpec, validateSpec } from "../../src/rollout/spec";
import { demuxLogs, tail } from "../../src/docker";

const spec: ReplicaSpec = {
  stack: "demo",
  service: "api",
  image: "slipway/api:abc",
  replicas: 3,
  env: { DATABASE_URL: "postgres://x", PORT: "3000" },
  networks: [{ name: "net-a", aliases: ["api"] }, { name: "net-b" }],
  labels: { team: "core" },
  memoryMb: 256,
  cpus: 0.5,
  restartPolicy: "unless-stopped",
  healthcheck: { test: ["CMD", "true"], intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 2000 },
};

describe("revisionOfSpec", () => {
  it("ignores replicas and key order, changes with image or env", () => {
    const r = revisionOfSpec(spec);
    assert.equal(revisionOfSpec({ ...spec, replicas: 7 }), r);
    assert.equal(revisionOfSpec({ ...spec, env: { PORT: "3000", DATABASE_URL: "postgres://x" } }), r);
    assert.notEqual(revisionOfSpec({ ...spec, image: "slipway/api:def" }), r);
    assert.notEqual(revisionOfSpec({ ...spec, env: { ...spec.env, PORT: "3001" } }), r);
    assert.match(r, /^[0-9a-f]{16}$/);
  });
});

describe("createOptions", () => {
  const o = createOptions(spec, 2);
  const rev = revisionOfSpec(spec);
  it("names the container <stack>-<service>-<revisionShort>-<n> and labels it", () => {
    assert.equal(o.name, `demo-api-${rev.slice(0, 8)}-2`);
    assert.deepEqual(o.Labels, { team: "core", "slipway.stack": "demo", "slipway.resource": "api", "slipway.revision": rev, "slipway.replica": "2" });
  });
  it("sets limits, restart policy, env and the health check in Docker units", () => {
    assert.equal(o.HostConfig?.Memory, 256 * 1024 * 1024);
    assert.equal(o.HostConfig?.NanoCpus, 500_000_000);
    assert.deepEqual(o.HostConfig?.RestartPolicy, { Name: "unless-stopped" });
    assert.deepEqual(o.Env, ["DATABASE_URL=postgres://x", "PORT=3000"]);
    assert.deepEqual(o.Healthcheck, { Test: ["CMD", "true"], Interval: 1e9, Timeout: 5e8, Retries: 3, StartPeriod: 2e9 });
  });
  it("attaches the first network with its aliases at create time", () => {
    assert.equal(o.HostConfig?.NetworkMode, "net-a");
    assert.deepEqual(o.NetworkingConfig, { EndpointsConfig: { "net-a": { Aliases: ["api"] } } });
  });
});

describe("validateSpec", () => {
  it("names the key and the replica set", () => {
    assert.throws(() => validateSpec({ ...spec, networks: [] }), /demo\/api: needs at least one network/);
    assert.throws(() => validateSpec({ ...spec, service: "Api" }), /service "Api"/);
  });
});

describe("demuxLogs", () => {
  it("joins framed stdout/stderr chunks; tail keeps the last lines", () => {
    const frame = (stream: number, text: string) => {
      const h = Buffer.alloc(8);
      h[0] = stream;
      h.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([h, Buffer.from(text)]);
    };
    const text = demuxLogs(Buffer.concat([frame(1, "a\n"), frame(2, "b\n"), frame(1, "c\n")]));
    assert.equal(text, "a\nb\nc\n");
    assert.equal(tail(text, 2), "b\nc");
  });
});
