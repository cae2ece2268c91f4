// The overhead benchmark's split of one `pulumi up` by its engine events (bench/overhead.ts): pure.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { median, splitByEvents } from "../../bench/overhead";

const urn = (type: string, name: string) => `urn:pulumi:s::slipway::${type}::${name}`;
const pre = (type: string, name: string, op: string): EngineEvent => ({ sequence: 0, timestamp: 0, resourcePreEvent: { metadata: { op, urn: urn(type, name), type, provider: "" } } }) as unknown as EngineEvent;
const out = (type: string, name: string, op: string): EngineEvent => ({ sequence: 0, timestamp: 0, resOutputsEvent: { metadata: { op, urn: urn(type, name), type, provider: "" } } }) as unknown as EngineEvent;

test("a promote splits into start → first step, each changed resource's step, after the last step", () => {
  const R = "pulumi-nodejs:dynamic/slipway:ReplicaSet";
  const C = "command:local:Command";
  const events = [
    { at: 1_000, event: pre("pulumi:pulumi:Stack", "slipway-s", "same") },
    { at: 2_000, event: pre("pulumi:providers:docker", "default", "update") },
    { at: 2_050, event: out("pulumi:providers:docker", "default", "update") },
    { at: 3_000, event: pre("docker:index/network:Network", "edge-net", "same") },
    { at: 3_100, event: out("docker:index/network:Network", "edge-net", "same") },
    { at: 4_000, event: pre(C, "pre-deploy-backup", "update") },
    { at: 6_500, event: out(C, "pre-deploy-backup", "update") },
    { at: 6_600, event: pre(C, "migrate", "update") },
    { at: 8_600, event: out(C, "migrate", "update") },
    { at: 8_700, event: pre(R, "api-replicas", "update") },
    { at: 18_700, event: out(R, "api-replicas", "update") },
    { at: 19_000, event: out("pulumi:pulumi:Stack", "slipway-s", "same") },
  ];
  const split = splitByEvents(0, 20_000, events);
  assert.equal(split.startToFirstStepS, 4);
  assert.deepEqual(split.steps, { "pre-deploy-backup": 2.5, migrate: 2, "api-replicas": 10 });
  assert.ok(Math.abs(split.afterLastStepS - 1.3) < 1e-9);
});

test("no step: NaN, not a made-up figure; the median skips what was not measured", () => {
  const split = splitByEvents(0, 5_000, []);
  assert.ok(Number.isNaN(split.startToFirstStepS) && Number.isNaN(split.afterLastStepS));
  assert.equal(median([3, 1, NaN, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
