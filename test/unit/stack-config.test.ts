// The committed stack files validate, and every production rule rejects a bad value with the
// stack and key named.
/* eslint-disable @typescript-eslint/no-explicit-any -- the cases mutate raw, untyped YAML on purpose */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadStackConfig, StackConfigError } from "../../stacks/load";
import { isMutableImageRef } from "../../stacks/policy";

const root = join(__dirname, "..", "..");

function stackFile(stack: string): Record<string, unknown> {
  const doc = parse(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config)) out[k.replace(/^slipway:/, "")] = v;
  return out;
}

function load(stack: string, values: Record<string, unknown>) {
  return loadStackConfig(stack, structuredClone(values));
}

function violationsOf(stack: string, values: Record<string, unknown>): string[] {
  try {
    load(stack, values);
  } catch (e) {
    assert.ok(e instanceof StackConfigError, `expected StackConfigError, got ${e}`);
    assert.match(e.message, new RegExp(`stack "${stack}"`));
    return e.violations.map((v) => `${v.key}: ${v.message}`);
  }
  return [];
}

test("the committed staging and production stack files are valid", () => {
  const staging = load("staging", stackFile("staging"));
  assert.equal(staging.environment, "staging");
  const production = load("production", stackFile("production"));
  assert.equal(production.environment, "production");
  assert.ok(production.api.replicas >= 2);
  assert.equal(production.backup?.enabled, true);
});

test("defaults are filled in once, at load", () => {
  const cfg = load("staging", stackFile("staging"));
  assert.equal(cfg.api.port, 3000);
  assert.equal(cfg.api.healthcheck.path, "/up");
  assert.equal(cfg.api.rollout.edgeUpTimeoutMs, 20_000);
  assert.equal(cfg.edge.slots, 10);
  assert.equal(cfg.edge.retries, 3);
  assert.deepEqual(cfg.edge.timeouts, { connectMs: 2000, clientMs: 60_000, serverMs: 60_000, httpRequestMs: 10_000, queueMs: 10_000, checkMs: 5000 });
  assert.equal(cfg.backup?.keep, 3, "a written value wins over the default");
});

test("a wrong type names the stack and the key path", () => {
  const values = stackFile("staging");
  (values.api as { replicas: unknown }).replicas = "three";
  const v = violationsOf("staging", values);
  assert.equal(v.length, 1);
  assert.match(v[0]!, /^slipway:api\.replicas: /);
});

test("api.env: a number or boolean is taken as its text (what `pulumi config set --path` stores), an object is refused", () => {
  const values = stackFile("staging");
  (values.api as { env: unknown }).env = { PGPOOL_MAX: 5, FEATURE: true, NAME: "x" };
  assert.deepEqual(load("staging", values).api.env, { PGPOOL_MAX: "5", FEATURE: "true", NAME: "x" });
  (values.api as { env: unknown }).env = { NESTED: { a: 1 } };
  const v = violationsOf("staging", values);
  assert.equal(v.length, 1);
  assert.match(v[0]!, /^slipway:api\.env\.NESTED: /);
});

test("a missing required section is reported by key", () => {
  const values = stackFile("staging");
  delete values.images;
  assert.deepEqual(violationsOf("staging", values).map((v) => v.split(":").slice(0, 2).join(":")), ["slipway:images"]);
});

const productionCases: [string, (v: Record<string, any>) => void, RegExp][] = [
  ["mutable api tag", (v) => (v.images.api = "slipway/api:latest"), /^slipway:images\.api: .*mutable/],
  ["untagged edge image", (v) => (v.images.edge = "registry.example.com:5000/slipway/edge"), /^slipway:images\.edge: .*mutable/],
  ["one replica", (v) => (v.api.replicas = 1), /^slipway:api\.replicas: is 1; production needs at least 2/],
  ["no api limits", (v) => delete v.api.limits, /^slipway:api\.limits: is required in production/],
  ["no database limits", (v) => delete v.database.limits, /^slipway:database\.limits: is required/],
  ["bind mount", (v) => (v.api.volumes = [{ source: "/srv/data", target: "/data" }]), /^slipway:api\.volumes\[0\]\.source: .*bind mount/],
  ["backups off", (v) => (v.backup.enabled = false), /^slipway:backup\.enabled: must be true in production/],
  ["plaintext secret", (v) => (v.api.env.STRIPE_API_KEY = "sk_live_123"), /^slipway:api\.env\.STRIPE_API_KEY: looks like a secret/],
];

for (const [name, mutate, expected] of productionCases) {
  test(`production rejects: ${name}`, () => {
    const values = structuredClone(stackFile("production")) as Record<string, any>;
    mutate(values);
    const v = violationsOf("production", values);
    assert.equal(v.length, 1, `exactly one violation expected, got ${JSON.stringify(v)}`);
    assert.match(v[0]!, expected);
  });
}

test("staging may be smaller: one replica, no limits, mutable tags", () => {
  const values = structuredClone(stackFile("staging")) as Record<string, any>;
  values.api.replicas = 1;
  delete values.api.limits;
  values.images.api = "slipway/api:latest";
  assert.deepEqual(violationsOf("staging", values), []);
});

test("every production violation is reported at once", () => {
  const values = structuredClone(stackFile("production")) as Record<string, any>;
  values.api.replicas = 1;
  values.images.api = "slipway/api";
  assert.equal(violationsOf("production", values).length, 2);
});

test("image reference mutability", () => {
  assert.equal(isMutableImageRef("postgres"), true);
  assert.equal(isMutableImageRef("postgres:latest"), true);
  assert.equal(isMutableImageRef("localhost:5000/app"), true);
  assert.equal(isMutableImageRef("localhost:5000/app:3f2c1a9"), false);
  assert.equal(isMutableImageRef("app@sha256:" + "a".repeat(64)), false);
});

test("rollout strategy: rolling by default; blue-green settings only with blue-green; enough edge slots for the sets a rollout runs", () => {
  const cfg = load("production", stackFile("production"));
  assert.equal(cfg.api.rollout.strategy, "rolling");
  const bg = stackFile("production") as Record<string, any>;
  bg.api.rollout = { ...(bg.api.rollout ?? {}), strategy: "blue-green" };
  assert.deepEqual(load("production", bg).api.rollout.blueGreen, { keepOldMinutes: 15 });

  const stray = stackFile("staging") as Record<string, any>;
  stray.api.rollout = { ...(stray.api.rollout ?? {}), blueGreen: { keepOldMinutes: 5 } };
  assert.deepEqual(violationsOf("staging", stray), [
    "slipway:api.rollout.blueGreen: applies only with api.rollout.strategy blue-green (the strategy is rolling); remove it or set the strategy",
  ]);

  const crowded = stackFile("production") as Record<string, any>;
  crowded.api.replicas = 4;
  crowded.api.rollout = { ...(crowded.api.rollout ?? {}), strategy: "blue-green" };
  assert.deepEqual(violationsOf("production", crowded), [
    "slipway:edge.slots: is 10; blue-green with 4 replicas needs at least 13 (3 sets of 4 replicas (serving, standby, new) and one spare)",
  ]);
  crowded.api.rollout.blueGreen = { keepOldMinutes: 0 };
  assert.deepEqual(violationsOf("production", crowded), [], "without a standby window, 2 sets + 1 fit in 10 slots");

  const rolling = stackFile("staging") as Record<string, any>;
  rolling.api.replicas = 12;
  assert.match(violationsOf("staging", rolling).join("\n"), /^slipway:edge\.slots: is 10; rolling with 12 replicas needs at least 13/);
});

test("canary settings: only with strategy canary; canary replicas at most api.replicas; shares must increase", () => {
  const stray = stackFile("staging") as Record<string, any>;
  stray.api.rollout = { ...(stray.api.rollout ?? {}), canary: { steps: [10, 50] } };
  assert.deepEqual(violationsOf("staging", stray), [
    "slipway:api.rollout.canary: applies only with api.rollout.strategy canary (the strategy is rolling); remove it or set the strategy",
  ]);
  const many = stackFile("production") as Record<string, any>;
  many.api.rollout = { ...(many.api.rollout ?? {}), strategy: "canary", canary: { replicas: 9 } };
  assert.match(violationsOf("production", many).join("\n"), /^slipway:api\.rollout\.canary\.replicas: is 9; at most api\.replicas/m);
  const order = stackFile("production") as Record<string, any>;
  order.api.rollout = { ...(order.api.rollout ?? {}), strategy: "canary", canary: { steps: [50, 10] } };
  assert.match(violationsOf("production", order).join("\n"), /^slipway:api\.rollout\.canary\.steps: must increase/m);
  const ok = stackFile("production") as Record<string, any>;
  ok.api.rollout = { ...(ok.api.rollout ?? {}), strategy: "canary" };
  assert.deepEqual(load("production", ok).api.rollout.canary, { replicas: 1, steps: [10, 50], stepSeconds: 60, maxErrorRateIncrease: 1, maxP99Ratio: 2, minRequests: 20 });
});

test("surge: 1 by default; rolling only, naming stack and key; at most api.replicas; edge slots for the batch", () => {
  assert.equal(load("production", stackFile("production")).api.rollout.surge, 1);
  const batch = stackFile("staging") as Record<string, any>;
  batch.api.replicas = 4;
  batch.api.rollout = { ...(batch.api.rollout ?? {}), surge: 2 };
  assert.equal(load("staging", batch).api.rollout.surge, 2);
  for (const strategy of ["blue-green", "canary"]) {
    const other = stackFile("staging") as Record<string, any>;
    other.api.rollout = { ...(other.api.rollout ?? {}), strategy, surge: 2 };
    // violationsOf also asserts the error names the stack.
    assert.deepEqual(violationsOf("staging", other), [
      `slipway:api.rollout.surge: applies only with api.rollout.strategy rolling (the strategy is ${strategy}); remove it or set the strategy`,
    ]);
  }
  const more = stackFile("production") as Record<string, any>;
  more.api.rollout = { ...(more.api.rollout ?? {}), surge: more.api.replicas + 1 };
  assert.deepEqual(violationsOf("production", more), [
    `slipway:api.rollout.surge: is ${more.api.replicas + 1}; at most api.replicas (${more.api.replicas}): a batch cannot start more new replicas than the service has`,
  ]);
  for (const bad of [0, 1.5, "2"]) {
    const v = stackFile("staging") as Record<string, any>;
    v.api.rollout = { ...(v.api.rollout ?? {}), surge: bad };
    assert.match(violationsOf("staging", v).join("\n"), /^slipway:api\.rollout\.surge: /m, `surge ${JSON.stringify(bad)}`);
  }
  const crowded = stackFile("staging") as Record<string, any>;
  crowded.api.replicas = 8;
  crowded.api.rollout = { ...(crowded.api.rollout ?? {}), surge: 4 };
  crowded.api.env = { ...(crowded.api.env ?? {}), PGPOOL_MAX: "5" }; // 12 × 5 connections fit PostgreSQL's limit
  assert.deepEqual(violationsOf("staging", crowded), [
    "slipway:edge.slots: is 10; rolling with 8 replicas needs at least 12 (8 replicas and a batch of 4 new beside them (api.rollout.surge))",
  ]);
});

test("database connections: the replicas a release runs at once, with full pools, fit PostgreSQL's limit, naming api.replicas and the fix", () => {
  const many = stackFile("staging") as Record<string, any>;
  many.api.replicas = 12;
  many.edge = { ...(many.edge ?? {}), slots: 20 };
  assert.deepEqual(violationsOf("staging", many), [
    "slipway:api.replicas: is 12: during a rolling release 13 replicas with pools of 10 (PGPOOL_MAX) may open 130 database connections, more than the 92 PostgreSQL allows the API; set slipway:api.env.PGPOOL_MAX to 7 or less, or run fewer replicas",
  ]);
  many.api.env = { ...(many.api.env ?? {}), PGPOOL_MAX: "7" };
  assert.deepEqual(violationsOf("staging", many), [], "13 × 7 = 91 fits");
  many.api.rollout = { ...(many.api.rollout ?? {}), surge: 4 };
  assert.match(violationsOf("staging", many).join("\n"), /16 replicas with pools of 7 \(PGPOOL_MAX\) may open 112 database connections.*PGPOOL_MAX to 5 or less/);

  const blueGreen = stackFile("production") as Record<string, any>;
  blueGreen.api.replicas = 4;
  blueGreen.edge = { ...(blueGreen.edge ?? {}), slots: 13 };
  blueGreen.api.rollout = { ...(blueGreen.api.rollout ?? {}), strategy: "blue-green" };
  assert.deepEqual(violationsOf("production", blueGreen), [], "2 × 4 × 10 + a standby of 4 idle pools = 84");
  blueGreen.api.replicas = 5;
  blueGreen.edge.slots = 16;
  assert.match(violationsOf("production", blueGreen).join("\n"), /^slipway:api\.replicas: is 5: during a blue-green release 10 replicas \(and a standby set of 5\) with pools of 10/m);
});
