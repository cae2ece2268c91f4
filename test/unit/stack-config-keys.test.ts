// Strict stack config: an unknown key anywhere is an error naming the stack and the key, with the closest
// valid key when one is close; the loader takes the whole `slipway` namespace; defaults come from the schema.
/* eslint-disable @typescript-eslint/no-explicit-any -- the cases mutate raw, untyped YAML on purpose */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadStackConfig, namespaceConfig, StackConfigError } from "../../stacks/load";
import { configKeys } from "../../stacks/schema";
import { closestKey, editDistance } from "../../stacks/suggest";

const root = join(__dirname, "..", "..");

function stackFile(stack: string): Record<string, any> {
  const doc = parse(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^slipway:/, ""), v]));
}

/** The violations ("key: message") of loading `values` as `stack`, or [] if it loads. */
function violationsOf(stack: string, values: Record<string, unknown>): string[] {
  try {
    loadStackConfig(stack, values);
  } catch (e) {
    assert.ok(e instanceof StackConfigError, `expected StackConfigError, got ${e}`);
    assert.match(e.message, new RegExp(`stack "${stack}"`));
    return e.violations.map((v) => `${v.key}: ${v.message}`);
  }
  return [];
}

function mutated(stack: string, mutate: (v: Record<string, any>) => void): string[] {
  const values = stackFile(stack);
  mutate(values);
  return violationsOf(stack, values);
}

const unknownKeyCases: [string, (v: Record<string, any>) => void, string][] = [
  ["nested typo", (v) => (v.api.replicaz = 2), "slipway:api.replicaz: unknown key; did you mean slipway:api.replicas?"],
  [
    "a unit in the name",
    (v) => (v.api.rollout.drainTimeoutSeconds = 30),
    "slipway:api.rollout.drainTimeoutSeconds: unknown key; did you mean slipway:api.rollout.drainTimeoutMs?",
  ],
  ["top-level typo", (v) => (v.enviroment = "staging"), "slipway:enviroment: unknown key; did you mean slipway:environment?"],
  ["top-level, unrelated", (v) => (v.colour = "blue"), "slipway:colour: unknown key"],
  ["nested, unrelated", (v) => (v.database.flavour = "pg"), "slipway:database.flavour: unknown key"],
  [
    "in an array element",
    (v) => (v.api.volumes = [{ source: "data", target: "/data" }, { source: "logs", target: "/logs", readonly: true }]),
    "slipway:api.volumes[1].readonly: unknown key; did you mean slipway:api.volumes[1].readOnly?",
  ],
  ["snake case", (v) => (v.edge.bind_address = "0.0.0.0"), "slipway:edge.bind_address: unknown key; did you mean slipway:edge.bindAddress?"],
  ["transposed letters", (v) => (v.backup.kepe = 3), "slipway:backup.kepe: unknown key; did you mean slipway:backup.keep?"],
  ["in limits", (v) => (v.edge.limits.cpu = 1), "slipway:edge.limits.cpu: unknown key; did you mean slipway:edge.limits.cpus?"],
  ["in edge.timeouts", (v) => (v.edge.timeouts = { conectMs: 500 }), "slipway:edge.timeouts.conectMs: unknown key; did you mean slipway:edge.timeouts.connectMs?"],
  ["in images", (v) => (v.images.postgress = "postgres:17"), "slipway:images.postgress: unknown key; did you mean slipway:images.postgres?"],
  [
    "one level too high",
    (v) => (v.api.drainTimeoutMs = 1000),
    "slipway:api.drainTimeoutMs: unknown key; did you mean slipway:api.rollout.drainTimeoutMs?",
  ],
  ["a section's key at the top", (v) => (v.replicas = 2), "slipway:replicas: unknown key; did you mean slipway:api.replicas?"],
  [
    "set without --path",
    (v) => (v["api.replicas"] = 3),
    "slipway:api.replicas: unknown key; to set replicas inside slipway:api use `pulumi config set --path 'api.replicas' VALUE`",
  ],
  ["secretEnv misspelt", (v) => (v.secretEnvs = { A: "b" }), "slipway:secretEnvs: unknown key; did you mean slipway:secretEnv?"],
];

for (const [name, mutate, expected] of unknownKeyCases) {
  test(`unknown key (${name}) names the stack, the key and the closest valid key`, () => {
    assert.deepEqual(mutated("staging", mutate), [expected]);
  });
}

test("unknown keys that are also own properties of Object.prototype are caught, not followed", () => {
  const v = mutated("staging", (values) => {
    values.api.constructor = 1;
    Object.defineProperty(values, "toString", { value: "x", enumerable: true });
    Object.defineProperty(values.edge, "__proto__", { value: { port: 1 }, enumerable: true });
  });
  assert.deepEqual(v.map((s) => s.split(":").slice(0, 2).join(":")).sort(), [
    "slipway:api.constructor",
    "slipway:edge.__proto__",
    "slipway:toString",
  ]);
});

test("every violation is reported at once: unknown keys beside wrong values and missing keys", () => {
  const v = mutated("production", (values) => {
    values.api.replicaz = values.api.replicas;
    delete values.api.replicas;
    values.edge.port = "http";
    values.api.healthcheck = { path: "/up", intervall: 500 };
    values.extra = true;
  });
  assert.deepEqual(v.sort(), [
    "slipway:api.healthcheck.intervall: unknown key; did you mean slipway:api.healthcheck.intervalMs?",
    "slipway:api.replicas: is required (number)",
    "slipway:api.replicaz: unknown key; did you mean slipway:api.replicas?",
    "slipway:edge.port: Invalid input: expected number, received string",
    "slipway:extra: unknown key",
  ]);
});

test("a valid production file still parses, and so does staging", () => {
  const production = loadStackConfig("production", stackFile("production"));
  assert.equal(production.environment, "production");
  assert.deepEqual(production.api.limits, { memoryMb: 512, cpus: 1 });
  assert.equal(production.backup?.keep, 14);
  assert.equal(loadStackConfig("staging", stackFile("staging")).environment, "staging");
});

test("api.env is free-form: any variable names", () => {
  const values = stackFile("staging");
  values.api.env = { "weird.name-1": "x", lower_case: "y", LOG_LEVEL: "debug" };
  assert.deepEqual(loadStackConfig("staging", values).api.env, values.api.env);
});

test("secretEnv is a known top-level key, not validated (values may be encrypted) and not in the parsed config", () => {
  const values = stackFile("production");
  values.secretEnv = { STRIPE_API_KEY: { secure: "v1:AAAABBBB" }, OTHER: 42 };
  const cfg = loadStackConfig("production", values);
  assert.equal("secretEnv" in cfg, false);
  assert.ok(configKeys.includes("secretEnv"));
});

test("api.limits defaults to 512 MiB / 1 CPU for a stack that writes none; production must write it", () => {
  const staging = stackFile("staging");
  delete staging.api.limits;
  assert.deepEqual(loadStackConfig("staging", staging).api.limits, { memoryMb: 512, cpus: 1 });
  assert.deepEqual(
    mutated("production", (v) => delete v.api.limits),
    ["slipway:api.limits: is required in production (memoryMb and cpus)"],
  );
  assert.deepEqual(mutated("production", (v) => delete v.edge.limits), ["slipway:edge.limits: is required in production (memoryMb and cpus)"]);
});

test("cpus may be whole or fractional and are kept as written", () => {
  for (const cpus of [1, 0.5, 1.5, 2, 0.25]) {
    const values = stackFile("production");
    values.api.limits.cpus = cpus;
    values.edge.limits.cpus = cpus;
    const cfg = loadStackConfig("production", values);
    assert.equal(cfg.api.limits.cpus, cpus);
    assert.equal(cfg.edge.limits?.cpus, cpus);
  }
  assert.match(mutated("staging", (v) => (v.api.limits.cpus = 0))[0]!, /^slipway:api\.limits\.cpus: /);
});

test("edge timeouts and retries: written values win, the rest keep their defaults", () => {
  const values = stackFile("staging");
  values.edge.timeouts = { serverMs: 120_000 };
  values.edge.retries = 1;
  const cfg = loadStackConfig("staging", values);
  assert.deepEqual(cfg.edge.timeouts, { connectMs: 2000, clientMs: 60_000, serverMs: 120_000, httpRequestMs: 10_000, queueMs: 10_000, checkMs: 5000 });
  assert.equal(cfg.edge.retries, 1);
  assert.match(mutated("staging", (v) => (v.edge.timeouts = { queueMs: 0 }))[0]!, /^slipway:edge\.timeouts\.queueMs: /);
});

test("the readiness path must be a plain path (the edge renders it into haproxy.cfg)", () => {
  assert.match(mutated("staging", (v) => (v.api.healthcheck = { path: "/up now" }))[0]!, /^slipway:api\.healthcheck\.path: /);
  assert.match(mutated("staging", (v) => (v.api.healthcheck = { path: "up" }))[0]!, /^slipway:api\.healthcheck\.path: /);
});

test("namespaceConfig: only slipway: keys, namespace stripped, JSON values parsed, plain strings kept", () => {
  const raw = namespaceConfig({
    "pulumi:tags": '{"app":"slipway"}',
    "docker:host": "unix:///var/run/docker.sock",
    "slipway:environment": "staging",
    "slipway:api": '{"replicas":2,"env":{"A":"1"}}',
    "slipway:dockerHost": "ssh://deploy@host",
    "slipway:replicas": "3",
    "slipwayx:api": "{}",
  });
  assert.deepEqual(raw, {
    environment: "staging",
    api: { replicas: 2, env: { A: "1" } },
    dockerHost: "ssh://deploy@host",
    replicas: 3,
  });
  const v = violationsOf("staging", raw);
  assert.ok(v.includes("slipway:replicas: unknown key; did you mean slipway:api.replicas?"), v.join("\n"));
});

test("edit distance counts a transposition as one edit", () => {
  assert.equal(editDistance("replicas", "replicas"), 0);
  assert.equal(editDistance("replicaz", "replicas"), 1);
  assert.equal(editDistance("replicsa", "replicas"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

test("closest key: close names get a suggestion, unrelated ones none", () => {
  const keys = ["replicas", "port", "limits", "restartPolicy", "env", "volumes", "healthcheck", "rollout"];
  assert.equal(closestKey("replica", keys), "replicas");
  assert.equal(closestKey("Port", keys), "port");
  assert.equal(closestKey("restart_policy", keys), "restartPolicy");
  assert.equal(closestKey("healthCheck", keys), "healthcheck");
  assert.equal(closestKey("volume", keys), "volumes");
  assert.equal(closestKey("colour", keys), undefined);
  assert.equal(closestKey("x", keys), undefined);
  assert.equal(closestKey("image", keys), undefined);
  assert.equal(closestKey("memory", ["memoryMb", "cpus"]), "memoryMb");
  assert.equal(closestKey("drainTimeoutSeconds", ["healthTimeoutMs", "edgeUpTimeoutMs", "drainTimeoutMs", "stopGraceSeconds"]), "drainTimeoutMs");
});
