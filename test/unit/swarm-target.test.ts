// The Swarm target without a swarm: the stack settings it refuses (each named), the release planner, the service
// specs it sends (secrets never in env, dnsrr, spread, constraints, host-mode edge ports) and what the program declares
// for `slipway:target: swarm` under Pulumi's mocks.
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadStackConfig } from "../../stacks/load";
import { violations } from "../support/stack-config";
import { apiServiceSpec, canaryOf, judgeTasks, oneOffServiceSpec, planRelease, releaseRevision, secretName, splitBySlot, standbyLive, summarizeRelease, swarmEdgeTarget, type SwarmReleaseSpec } from "../../src/swarm";
import { rolesTaskScript } from "../../src/swarm/database";
import { configServerCommand, edgeTaskScript } from "../../src/swarm/edge-config";
import { renderHaproxyConfig } from "../../src/edge/haproxy-config";
import { declareProgram as declare, type Registered } from "../support/declare";
import { goDuration } from "../../infra/targets/swarm";
import { onlyConnectionChanged, swarmFileProvider, swarmReleaseProvider, swarmTaskProvider } from "../../infra/providers/swarm";
import { removableFiles } from "../../src/swarm/configs";
import { dbClientSpec, dbServiceFacts } from "../../src/swarm/db-client";
import { restoreMigrateSpec, servingRelease } from "../../src/swarm/restore-site";
import { planRestore } from "../../src/restore/plan";

const base = {
  environment: "staging",
  target: "swarm",
  images: { api: "slipway/api:1", edge: "slipway/edge:1", postgres: "slipway-local/postgres:17" },
  api: { replicas: 2 },
  edge: { port: 18080 },
  database: {},
};

test("target: docker by default; a swarm stack with what swarm supports loads", () => {
  const { target: _t, ...docker } = base;
  assert.equal(loadStackConfig("s", docker).target, "docker");
  const cfg = loadStackConfig("s", base);
  assert.equal(cfg.target, "swarm");
  assert.equal(cfg.swarm.encrypted, true, "overlays encrypted by default");
});

test("swarm refuses, by key, what it does not support; docker refuses the swarm key", () => {
  const refused = violations({
    ...base,
    edge: { port: 18080, bindAddress: "0.0.0.0", tls: { enabled: true } },
    api: { replicas: 2, restartPolicy: "always", volumes: [{ source: "v", target: "/v" }] },
    backup: { enabled: true, dir: "/b", wal: { enabled: true } },
    monitoring: { enabled: true },
  }).join("\n");
  assert.doesNotMatch(refused, /slipway:edge\.tls/, "HTTPS is served on swarm");
  // blue-green runs on swarm (a service per revision: staged idle, switched, the old one kept as the standby)
  assert.doesNotMatch(violations({ ...base, api: { replicas: 2, rollout: { strategy: "blue-green", blueGreen: { keepOldMinutes: 5 } } } }).join("\n"), /slipway:api\.rollout/);
  // canary runs on swarm (the new service's first tasks take the shares at every edge task, judged on its access log)
  assert.doesNotMatch(violations({ ...base, api: { replicas: 2, rollout: { strategy: "canary", canary: { replicas: 1, steps: [25, 50] } } } }).join("\n"), /slipway:api\.rollout/);
  for (const key of ["edge.bindAddress", "api.restartPolicy", "api.volumes", "backup.wal.enabled", "monitoring.enabled"]) {
    assert.match(refused, new RegExp(`slipway:${key.replace(/\./g, "\\.")}\\b.*not supported on target swarm`), key);
  }
  const { target: _t, ...docker } = base;
  assert.match(violations({ ...docker, swarm: { encrypted: false } }).join("\n"), /slipway:swarm.*only with slipway:target swarm/);
  // dumps run on swarm: production needs them there as on one engine; the acknowledgement that it had none is gone
  assert.match(violations({ ...base, environment: "production" }).join("\n"), /slipway:backup\.enabled: must be true in production/);
  assert.doesNotMatch(violations({ ...base, backup: { enabled: true, dir: "/b", verify: true, copyTo: "sftp:b" } }).join("\n"), /slipway:backup/);
  assert.match(violations({ ...base, swarm: { withoutBackups: true } }).join("\n"), /slipway:swarm.*withoutBackups/);
  assert.match(violations({ ...base, swarm: { apiPlacement: ["zone a"] } }).join("\n"), /slipway:swarm\.apiPlacement/);
  assert.match(violations({ ...base, api: { replicas: 2, rollout: { surge: 2 } } }).join("\n"), /slipway:api\.rollout\.surge\b.*not supported on target swarm.*whole service at once/);
  // a swarm release runs the old service and the new one: 2 × 5 replicas × pools of 10 > 92 connections
  assert.match(violations({ ...base, api: { replicas: 5 } }).join("\n"), /slipway:api\.replicas: is 5: during a rolling release 10 replicas with pools of 10/);
});

test("planner: first release to colour a; a new revision goes to the idle colour; the same one is kept", () => {
  assert.deepEqual(planRelease([], "r1"), { kind: "release", colour: "a" });
  assert.deepEqual(planRelease([{ name: "s-api-a", colour: "a", revision: "r1" }], "r1", "a"), { kind: "keep", colour: "a" });
  assert.deepEqual(planRelease([{ name: "s-api-a", colour: "a", revision: "r1" }], "r2", "a"), { kind: "release", colour: "b", from: "a" });
  // an interrupted run left b: removed first, a keeps serving until b is up again
  assert.deepEqual(planRelease([{ name: "s-api-a", colour: "a", revision: "r1" }, { name: "s-api-b", colour: "b", revision: "r2" }], "r2", "a"), { kind: "release", colour: "b", from: "a", stale: "s-api-b" });
  // state lost: the only service found is the serving one
  assert.deepEqual(planRelease([{ name: "s-api-b", colour: "b", revision: "r1" }], "r2"), { kind: "release", colour: "a", from: "b" });
});

test("planner, blue-green: back to the standby's revision inside its window is a switch; another revision replaces the standby; the window is the stored time", () => {
  const both = [{ name: "s-api-a", colour: "a" as const, revision: "r2" }, { name: "s-api-b", colour: "b" as const, revision: "r1" }];
  const standby = { colour: "b" as const, service: "s-api-b", revision: "r1", until: "2026-12-07T12:15:00.000Z" };
  assert.deepEqual(planRelease(both, "r1", "a", standby), { kind: "switch", colour: "b", from: "a" });
  assert.deepEqual(planRelease(both, "r3", "a", standby), { kind: "release", colour: "b", from: "a", stale: "s-api-b" }, "a new revision goes where the standby was");
  assert.deepEqual(planRelease(both, "r2", "a", standby), { kind: "keep", colour: "a" });
  assert.deepEqual(planRelease(both, "r1", "a"), { kind: "release", colour: "b", from: "a", stale: "s-api-b" }, "no live standby: a release like any other");
  assert.equal(standbyLive(standby, Date.parse("2026-12-07T12:14:59Z")), true);
  assert.equal(standbyLive(standby, Date.parse("2026-12-07T12:15:00Z")), false);
  assert.equal(standbyLive(undefined, 0), false);
});

test("planner, canary: a new revision beside a serving one starts with the canary's tasks (at most the replicas); the first release, a kept one and a switch have none", () => {
  const canary = { replicas: 2, steps: [10, 50] };
  assert.deepEqual(canaryOf({ kind: "release", colour: "b", from: "a" }, 3, canary), { tasks: 2, steps: [10, 50] });
  assert.deepEqual(canaryOf({ kind: "release", colour: "b", from: "a" }, 1, canary), { tasks: 1, steps: [10, 50] }, "never more tasks than replicas");
  assert.equal(canaryOf({ kind: "release", colour: "a" }, 3, canary), undefined, "nothing serves yet: no stable set to judge against");
  assert.equal(canaryOf({ kind: "keep", colour: "a" }, 3, canary), undefined);
  assert.equal(canaryOf({ kind: "switch", colour: "b", from: "a" }, 3, canary), undefined);
  assert.equal(canaryOf({ kind: "release", colour: "b", from: "a" }, 3, undefined), undefined, "not a canary stack");
});

test("the canary's access records: split by the colour of the slot that served them; other backends' and slots' records are neither", () => {
  const r = (server: string) => ({ server, status: 200, ms: 3 });
  const split = splitBySlot([r("b1"), r("a1"), r("a12"), r("b10"), r("<NOSRV>"), r("ab1"), r("b")], "b", "a");
  assert.deepEqual(split.canary.map((x) => x.server), ["b1", "b10"]);
  assert.deepEqual(split.stable.map((x) => x.server), ["a1", "a12"]);
});

test("judgeTasks: ready when all replicas run; failed with Swarm's error and the exit code", () => {
  const t = (state: string, extra = {}) => ({ id: state, node: "n1", nodeReady: true, state, desired: "running", addresses: {}, ...extra });
  assert.deepEqual(judgeTasks([t("running"), t("starting")], 2, 2), { kind: "waiting", running: 1 });
  assert.equal(judgeTasks([t("running"), t("running")], 2, 2).kind, "ready");
  assert.equal(judgeTasks([t("running"), t("running", { nodeReady: false })], 2, 2).kind, "waiting", "a task on a Down node does not count");
  const failed = judgeTasks([t("failed", { error: "task: non-zero exit (1)", exitCode: 1 }), t("failed", { error: "task: non-zero exit (1)", exitCode: 1 })], 2, 2);
  assert.equal(failed.kind, "failed");
  assert.match((failed as { reason: string }).reason, /non-zero exit \(1\) \(exit code 1\)/);
});

const spec: SwarmReleaseSpec = {
  stack: "slipway-staging",
  image: "slipway/api:1",
  replicas: 3,
  env: { PORT: "3000", PGUSER: "slipway_api" },
  secrets: { PGPASSWORD: "s3cret-value" },
  secretsKey: "k".repeat(32),
  networks: ["slipway-staging-edge", "slipway-staging-backend"],
  labels: { "slipway.project": "slipway" },
  memoryMb: 256,
  cpus: 0.5,
  healthcheck: { test: ["CMD", "bash", "dist/api/healthcheck.sh", "/up"], intervalMs: 1000, timeoutMs: 5000, retries: 3, startPeriodMs: 10_000 },
  placement: ["node.labels.zone==a"],
  stopGraceSeconds: 10,
};

test("the release service: dnsrr, spread, constraints, secrets as 0400 files and never in env or names", () => {
  const refs = [{ name: secretName("slipway-staging-api-b", "PGPASSWORD", "s3cret-value", spec.secretsKey), file: "PGPASSWORD", id: "sec1" }];
  const s = apiServiceSpec(spec, "b", refs, { uid: 1000, gid: 1000 });
  assert.equal(s.Name, "slipway-staging-api-b");
  assert.equal(s.EndpointSpec.Mode, "dnsrr");
  assert.equal(s.Mode.Replicated.Replicas, 3);
  assert.deepEqual(s.TaskTemplate.Placement, { Constraints: ["node.labels.zone==a"], Preferences: [{ Spread: { SpreadDescriptor: "node.id" } }] });
  assert.deepEqual(s.TaskTemplate.ContainerSpec.Secrets, [{ SecretID: "sec1", SecretName: refs[0]!.name, File: { Name: "PGPASSWORD", UID: "1000", GID: "1000", Mode: 0o400 } }]);
  assert.ok(s.TaskTemplate.ContainerSpec.Env.includes("PGPASSWORD_FILE=/run/secrets/PGPASSWORD"));
  assert.ok(!JSON.stringify(s).includes("s3cret-value"), "no secret value anywhere in the service spec");
  assert.equal(s.TaskTemplate.ContainerSpec.ReadOnly, true);
  assert.deepEqual(s.TaskTemplate.ContainerSpec.CapabilityDrop, ["ALL"]);
  assert.equal(s.Labels["slipway.revision"], releaseRevision(spec));
  assert.notEqual(releaseRevision({ ...spec, secrets: { PGPASSWORD: "other" } }), releaseRevision(spec), "a new secret value is a new revision");
  assert.notEqual(secretName("o", "PGPASSWORD", "a", spec.secretsKey), secretName("o", "PGPASSWORD", "b", spec.secretsKey), "a new value is a new Swarm secret");
  const long = secretName("slipway-swarm-82a651-roles-abc123", "SLIPWAY_DB_OWNER_PASSWORD", "v", spec.secretsKey);
  assert.ok(long.length <= 64 && /^[a-z0-9][a-z0-9-]*[a-z0-9]$/.test(long), `a Swarm name: ${long}`);
});

test("one-off tasks: restart condition none, on the constrained node, secrets as files", () => {
  const s = oneOffServiceSpec({ stack: "st", name: "roles", image: "pg", command: ["sh", "-c", "x"], env: {}, secrets: { A: "v" }, secretsKey: "k".repeat(16), constraints: ["node.labels.slipway.database==true"], networks: [], mounts: [{ source: "st-pgsocket", target: "/var/run/postgresql" }], timeoutMs: 1000, labels: {} }, "abc", [{ name: "st-roles-abc-a-1", file: "A", id: "i" }], { uid: 0, gid: 0 });
  assert.equal(s.Name, "st-roles-abc");
  assert.deepEqual(s.TaskTemplate.RestartPolicy, { Condition: "none" });
  assert.deepEqual(s.TaskTemplate.Placement.Constraints, ["node.labels.slipway.database==true"]);
  assert.deepEqual(s.TaskTemplate.ContainerSpec.Env, ["A_FILE=/run/secrets/A"]);
  const script = rolesTaskScript({ user: "app", database: "app" });
  assert.match(script, /psql -h \/var\/run\/postgresql .*--username app --dbname app$/m, "the superuser on the local socket only");
  assert.match(script, /cat \/run\/secrets\/SLIPWAY_DB_OWNER_PASSWORD/);
});

test("the swarm edge config: a server-template per colour over tasks.<service>, the runtime API from the control subnet only", () => {
  const text = renderHaproxyConfig({ backend: "api", serviceHost: "x", serverTemplates: [{ prefix: "a", host: "tasks.s-api-a" }, { prefix: "b", host: "tasks.s-api-b" }], runtimeApi: { port: 9999, allowFrom: "10.0.9.0/24" } });
  assert.match(text, /server-template a 10 tasks\.s-api-a:3000/);
  assert.match(text, /server-template b 10 tasks\.s-api-b:3000/);
  assert.doesNotMatch(text, /server-template api /);
  assert.match(text, /listen runtime-api\n {2}mode tcp\n {2}bind :9999\n {2}no log\n {2}no option idle-close-on-response\n {2}tcp-request connection reject unless \{ src 10\.0\.9\.0\/24 \}\n {2}server admin unix@\/var\/run\/haproxy\/admin\.sock/);
  assert.doesNotMatch(renderHaproxyConfig({ backend: "api", serviceHost: "api" }), /runtime-api/, "the one-host config is unchanged");
});

const swarmStack = {
  "slipway:target": "swarm",
  "slipway:edge": { port: 18080, limits: { memoryMb: 128, cpus: 0.5 } },
  "slipway:api": { replicas: 2, limits: { memoryMb: 256, cpus: 0.5 } },
  "slipway:backup": null,
  "slipway:swarm": { encrypted: true, apiPlacement: ["node.labels.zone==a"] },
};
const byName = (rs: Registered[], name: string) => {
  const r = rs.find((x) => x.name === name);
  assert.ok(r, `resource ${name} declared`);
  return r;
};

test("target swarm declares overlays, a pinned database service, one-off roles and migrations, a global host-mode edge and the release", () => {
  const { resources, error } = declare("staging", swarmStack);
  assert.equal(error, undefined);
  for (const n of ["edge", "backend", "control"]) {
    const net = byName(resources, `${n}-network`);
    assert.equal(net.inputs.driver, "overlay");
    assert.equal(net.inputs.attachable, true);
    assert.deepEqual(net.inputs.options, { encrypted: "" }, `${n}: encrypted`);
  }
  const db = byName(resources, "db");
  assert.equal(db.type, "docker:index/service:Service");
  assert.deepEqual(db.inputs.taskSpec.placement.constraints, ["node.labels.slipway.database==true"]);
  assert.equal(db.inputs.endpointSpec.mode, "dnsrr");
  assert.equal(db.inputs.endpointSpec.ports, undefined, "the database is never published");
  assert.equal(db.inputs.taskSpec.containerSpec.env.POSTGRES_PASSWORD_FILE, "/run/secrets/POSTGRES_PASSWORD");
  assert.ok(!JSON.stringify(db.inputs).includes("mock-password"), "no password in the database service");
  assert.equal(byName(resources, "db-roles").type, "pulumi-nodejs:dynamic/slipway:SwarmTask");
  const migrate = byName(resources, "migrate");
  assert.equal(migrate.inputs.env.PGUSER, "slipway_owner");
  assert.ok(!JSON.stringify(migrate.inputs.env).includes("mock-password"));
  const edge = byName(resources, "edge");
  assert.deepEqual(edge.inputs.mode, { global: true });
  assert.deepEqual(edge.inputs.taskSpec.placement.constraints, ["node.labels.slipway.edge==true"]);
  assert.deepEqual(edge.inputs.endpointSpec.ports, [{ targetPort: 8080, publishedPort: 18080, publishMode: "host", protocol: "tcp" }]);
  // The edge's spec names no config (a change would replace its tasks): they fetch it from the config server.
  assert.equal(edge.inputs.taskSpec.containerSpec.configs, undefined);
  assert.deepEqual(edge.inputs.taskSpec.containerSpec.commands, ["sh", "-c", edgeTaskScript()]);
  assert.deepEqual(edge.inputs.taskSpec.containerSpec.env, { SLIPWAY_EDGE_CONFIG_FROM: "slipway-staging-edge-config:8406" });
  assert.equal(edge.inputs.taskSpec.containerSpec.stopSignal, "SIGUSR1");
  const server = byName(resources, "edge-config-server");
  assert.equal(server.inputs.name, "slipway-staging-edge-config");
  assert.deepEqual(server.inputs.mode, { global: true });
  assert.deepEqual(server.inputs.taskSpec.placement.constraints, ["node.labels.slipway.edge==true"]);
  assert.equal(server.inputs.taskSpec.networksAdvanceds.length, 1, "the control overlay only");
  assert.equal(server.inputs.endpointSpec.ports, undefined, "nothing published");
  assert.equal(server.inputs.updateConfig.order, "start-first");
  const edgeConfig = byName(resources, "edge-config");
  assert.equal(edgeConfig.type, "pulumi-nodejs:dynamic/slipway:SwarmFile", "not docker.ServiceConfig: see src/swarm/configs.ts");
  const config = edgeConfig.inputs.content;
  const hash = /^slipway-staging-haproxy-([0-9a-f]{12})$/.exec(edgeConfig.inputs.name)?.[1];
  assert.ok(hash, edgeConfig.inputs.name);
  assert.match(config, new RegExp(`^global\n  description ${hash}\n`), "the config says its hash (show info)");
  assert.ok(config.endsWith("\n# slipway: end of haproxy.cfg\n"), "a fetch cut short is never loaded");
  const ready = byName(resources, "edge-ready");
  assert.equal(ready.type, "pulumi-nodejs:dynamic/slipway:SwarmEdgeReady");
  assert.equal(ready.inputs.configHash, hash);
  assert.match(config, /server-template a 10 tasks\.slipway-staging-api-a:3000/);
  assert.match(config, /src 10\.0\.9\.0\/24/);
  const release = byName(resources, "api");
  assert.equal(release.type, "pulumi-nodejs:dynamic/slipway:SwarmRelease");
  assert.deepEqual(release.inputs.placement, ["node.labels.zone==a"]);
  assert.equal(resources.find((r) => r.name === "api-replicas"), undefined, "no one-host replica set on swarm");
});

test("target swarm with backup.enabled: the pre-deploy backup is the verb through the manager (--overlay, the owner's password a secret in its environment)", () => {
  const isSecret = (v: unknown) => typeof v === "object" && v !== null && "value" in v && Object.keys(v).some((k) => k.length === 32);
  const { resources, error } = declare("production", {
    ...swarmStack,
    "slipway:environment": "production",
    "slipway:backup": { enabled: true, dir: "/var/backups/slipway" },
    "slipway:api": { replicas: 2, limits: { memoryMb: 256, cpus: 0.5 } },
    "slipway:database": { limits: { memoryMb: 512, cpus: 1 } },
    "slipway:edge": { port: 18080, limits: { memoryMb: 128, cpus: 0.5 } },
  });
  assert.equal(error, undefined);
  const backup = byName(resources, "deploy-backup");
  assert.match(backup.inputs.create, /^node --import tsx src\/cli\/backup\.ts --stack slipway-production --db-container slipway-production-db --overlay slipway-production-backend --dir \/var\/backups\/slipway --keep \d+ --keep-weeks 4 --verify --image-tag \S+ --database app$/);
  assert.ok(!String(backup.inputs.create).includes("mock-password"), "no password on its command line");
  assert.ok(isSecret(backup.inputs.environment), "its environment (the owner's password) is a secret");
  assert.equal(resources.find((r) => r.name === "deploy-base-backup"), undefined, "no WAL archive on swarm");
});

test("the backup's client container on the manager: the database service's image and limits, libpq pointed at it as the owner, the password only as a file", () => {
  const facts = dbServiceFacts("s-db", { TaskTemplate: { ContainerSpec: { Image: "postgres:17@sha256:ab12", Env: ["POSTGRES_USER=app", "POSTGRES_DB=shop", "POSTGRES_PASSWORD_FILE=/run/secrets/POSTGRES_PASSWORD"] }, Resources: { Limits: { MemoryBytes: 536870912, NanoCPUs: 1e9 } } } });
  assert.deepEqual(facts, { image: "postgres:17@sha256:ab12", database: "shop", memoryBytes: 536870912, nanoCpus: 1e9 });
  const spec = dbClientSpec({ prefix: "s", service: "s-db", network: "s-backend" }, facts, "postgres:17", "s-db-client-1");
  assert.deepEqual(spec.Cmd, ["sleep", "infinity"]);
  assert.deepEqual(spec.Env, ["PGHOST=db", "PGPASSFILE=/run/secrets/PGPASSFILE", "POSTGRES_USER=slipway_owner", "POSTGRES_DB=shop"]);
  assert.equal(spec.HostConfig?.NetworkMode, "s-backend");
  assert.equal(spec.HostConfig?.Memory, 536870912);
  assert.equal(spec.HostConfig?.NanoCpus, 1e9);
  assert.equal(spec.Labels?.["slipway.role"], "db-client");
  assert.equal(spec.Labels?.["slipway.stack"], "s");
  assert.throws(() => dbServiceFacts("s-db", {}), /database service 's-db' has no image/);
});

test("a restore on a swarm: the serving release's image picks the migrations, run as the deploy runs them — a one-off task on the backend overlay as the owner, its password a secret file", () => {
  const target = { prefix: "s", edge: swarmEdgeTarget("s", "edge:1"), network: "s-backend", database: "shop", ownerPassword: "Pw1", taskTimeoutMs: 60_000 };
  const image = "app:2@sha256:" + "c".repeat(64);
  const api = servingRelease("s-api-b", image, 3);
  assert.deepEqual(api, [{ name: "s-api-b", image: "app:2", imageId: image }]);
  assert.deepEqual(servingRelease("s-api-b", image, 0), [], "a release with no running task says nothing about the code");
  const plan = planRestore({ state: { stack: "s", edges: ["s-edge on n2", "s-edge on n3"], maintenanceBefore: undefined, api, dbNetworks: ["s-backend"] }, maintenance: true, migrate: true, dbContainer: "s-db-client-1", deployedImage: "app:2" });
  assert.deepEqual(plan, { maintenance: { action: "turn-on" }, migrate: { action: "run", imageId: image, image: "app:2", network: "s-backend" } });
  const task = restoreMigrateSpec(target, image, "k".repeat(16));
  assert.equal(task.name, "restore-migrate");
  assert.deepEqual(task.command, ["node", "dist/api/migrate.js"]);
  assert.deepEqual(task.env, { PGHOST: "db", PGUSER: "slipway_owner", PGDATABASE: "shop" });
  assert.deepEqual(task.networks, ["s-backend"]);
  assert.equal(task.timeoutMs, 60_000);
  const spec = oneOffServiceSpec(task, "abc", [{ name: "s-restore-migrate-abc-PGPASSWORD-1", file: "PGPASSWORD", id: "i" }], { uid: 1000, gid: 1000 });
  assert.equal(spec.Name, "s-restore-migrate-abc");
  assert.deepEqual(spec.TaskTemplate.ContainerSpec.Env, ["PGHOST=db", "PGUSER=slipway_owner", "PGDATABASE=shop", "PGPASSWORD_FILE=/run/secrets/PGPASSWORD"]);
  assert.ok(!JSON.stringify(spec).includes("Pw1"), "the password is in no part of the service's spec");
});

test("durations in the provider's read-back form (Go's), so the preview after an up stays empty", () => {
  assert.deepEqual([65_000, 30_000, 2000, 3_600_000, 1500].map(goDuration), ["1m5s", "30s", "2s", "1h0m0s", "1500ms"]);
});

test("the preview's one line about a release: revisions, replicas, image, the colour it goes to and the one removed", () => {
  const short = (s: SwarmReleaseSpec) => releaseRevision(s).slice(0, 8);
  const v2 = { ...spec, image: "slipway/api:2" };
  assert.equal(
    summarizeRelease({ spec, colour: "a", revision: releaseRevision(spec) }, v2, ["image"]),
    `release ${short(spec)}→${short(v2)}: 3 replicas of slipway/api:2 as slipway-staging-api-b, switched at every edge task, then slipway-staging-api-a removed (changed: image)`,
  );
  // A secret's change is a release too; its value appears nowhere in the line.
  const rotated = { ...spec, secrets: { PGPASSWORD: "n3w-value" }, replicas: 5 };
  const line = summarizeRelease({ spec, colour: "b" }, rotated, ["replicas", "secrets"]);
  assert.equal(line, `release ${short(spec)}→${short(rotated)}: 3→5 replicas of slipway/api:1 as slipway-staging-api-a, switched at every edge task, then slipway-staging-api-b removed (changed: replicas, secrets)`);
  assert.doesNotMatch(line, /s3cret|n3w-value/);
  // In a preview, an image another resource computes is not known yet.
  const unknown = { ...spec, image: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" };
  assert.equal(summarizeRelease({ spec }, unknown, ["image"]), `release ${short(spec)}→new: 3 replicas of a new image as slipway-staging-api-a, switched at every edge task (changed: image)`);
});

test("the preview's line under blue-green: staged idle and switched, the old one kept as the standby; a switch back; the standby's removal; a change that releases nothing", () => {
  const short = (s: SwarmReleaseSpec) => releaseRevision(s).slice(0, 8);
  const v2 = { ...spec, image: "slipway/api:2" };
  const now = Date.parse("2026-12-07T12:00:00Z");
  const blueGreen = { keepOldMinutes: 15 };
  assert.equal(
    summarizeRelease({ spec, colour: "a", revision: releaseRevision(spec) }, v2, ["image"], { blueGreen, now }),
    `blue-green: release ${short(spec)}→${short(v2)}: 3 replicas of slipway/api:2 as slipway-staging-api-b, staged idle, then switched at every edge task at once, slipway-staging-api-a kept idle as the standby 15 min (changed: image)`,
  );
  const standby = { colour: "a" as const, service: "slipway-staging-api-a", revision: releaseRevision(spec), until: "2026-12-07T12:10:00.000Z" };
  assert.equal(
    summarizeRelease({ spec: v2, colour: "b", revision: releaseRevision(v2), standby }, spec, ["image"], { blueGreen, now }),
    `blue-green: switch back to the standby slipway-staging-api-a (${short(spec)}) at every edge task, slipway-staging-api-b kept idle as the standby 15 min`,
  );
  assert.equal(
    summarizeRelease({ spec: v2, colour: "b", revision: releaseRevision(v2), standby }, v2, ["standby"], { blueGreen, now: Date.parse("2026-12-07T12:10:01Z") }),
    "remove the standby slipway-staging-api-a (its window ended 2026-12-07T12:10:00.000Z)",
  );
  assert.equal(summarizeRelease({ spec: v2, colour: "b", revision: releaseRevision(v2), standby }, v2, ["blueGreen"], { now }), "remove the standby slipway-staging-api-a (blue-green is off)");
  assert.equal(summarizeRelease({ spec, colour: "a", revision: releaseRevision(spec) }, spec, ["blueGreen"], { blueGreen, now }), `no release: revision ${short(spec)} stays (changed: blueGreen)`);
});

test("the preview's line under canary: the canary's tasks and shares, then every replica and the old one removed; the first release is a plain one", () => {
  const short = (s: SwarmReleaseSpec) => releaseRevision(s).slice(0, 8);
  const v2 = { ...spec, image: "slipway/api:2" };
  const canary = { replicas: 1, steps: [10, 50] };
  assert.equal(
    summarizeRelease({ spec, colour: "a", revision: releaseRevision(spec) }, v2, ["image"], { canary }),
    `canary: release ${short(spec)}→${short(v2)}: 1 canary task of slipway/api:2 as slipway-staging-api-b at 10 → 50 % of requests, each judged on the edge's access log, then 3 replicas, then slipway-staging-api-a removed (changed: image)`,
  );
  assert.equal(summarizeRelease({ spec }, v2, ["image"], { canary }), `release ${short(spec)}→${short(v2)}: 3 replicas of slipway/api:2 as slipway-staging-api-a, switched at every edge task (changed: image)`);
});

test("the preview's line for a service an interrupted run left in the other colour: drained and removed, with or without a release", () => {
  const short = (s: SwarmReleaseSpec) => releaseRevision(s).slice(0, 8);
  const stored = { spec, colour: "a" as const, revision: releaseRevision(spec), leftover: "slipway-staging-api-b" };
  assert.equal(summarizeRelease(stored, spec, ["leftover"]), "drain and remove slipway-staging-api-b (left by an interrupted run)");
  const v2 = { ...spec, image: "slipway/api:2" };
  assert.equal(
    summarizeRelease(stored, v2, ["image", "leftover"]),
    `drain and remove slipway-staging-api-b (left by an interrupted run); release ${short(spec)}→${short(v2)}: 3 replicas of slipway/api:2 as slipway-staging-api-b, switched at every edge task, then slipway-staging-api-a removed (changed: image, leftover)`,
  );
});

test("the release's diff: a standby whose window ended is work left for the next up; a live one is none", async () => {
  const props = { ...spec, edge: { service: "s-edge", backend: "api", controlNetwork: "s-control", runtimePort: 9999, relayImage: "e" }, timeouts: { healthTimeoutMs: 1, edgeUpTimeoutMs: 1, drainTimeoutMs: 1 }, blueGreen: { keepOldMinutes: 15 }, colour: "b", service: "s-api-b", revision: releaseRevision(spec) };
  const inputs = { ...props, colour: undefined, service: undefined, revision: undefined, standby: undefined };
  const live = { colour: "a", service: "s-api-a", revision: "r0", until: new Date(Date.now() + 600_000).toISOString() };
  assert.equal((await swarmReleaseProvider.diff!("s/api", { ...props, standby: live } as never, inputs as never)).changes, false);
  const ended = { ...live, until: new Date(Date.now() - 1000).toISOString() };
  const diff = await swarmReleaseProvider.diff!("s/api", { ...props, standby: ended } as never, inputs as never);
  assert.equal(diff.changes, true);
  assert.deepEqual(Object.keys((diff as { detailedDiff?: object }).detailedDiff ?? {}), ["standby"]);
});

test("another manager of the same swarm: a change that is stored, never a release or a task run", async () => {
  const task = { stack: "s", name: "migrate", image: "slipway/api:1", command: ["true"], env: {}, secrets: {}, secretsKey: "k", constraints: [], networks: [], mounts: [], timeoutMs: 1000, labels: {}, triggers: ["slipway/api:1"] };
  const olds = { ...task, dockerHost: "unix:///nonexistent/node1/docker.sock" };
  const moved = { ...task, dockerHost: "unix:///nonexistent/node2/docker.sock" };
  assert.equal(onlyConnectionChanged(olds, moved), true);
  assert.equal(onlyConnectionChanged(olds, olds), false, "no change at all is not a connection change");
  assert.equal(onlyConnectionChanged(olds, { ...moved, image: "slipway/api:2" }), false, "another image with it re-runs");
  assert.equal(onlyConnectionChanged({ ...olds, colour: "a" }, { ...moved }, ["colour"]), true, "outputs are not inputs");
  // The task's update with only the manager changed returns the new address without reaching any engine (none answers
  // at these paths); with the image changed it runs, and so fails to connect.
  assert.deepEqual((await swarmTaskProvider.update!("s/migrate", olds, moved)).outs, moved);
  await assert.rejects(swarmTaskProvider.update!("s/migrate", olds, { ...moved, image: "slipway/api:2" }), /nonexistent|ENOENT|connect/);
  // The release keeps its colour, service and revision and releases nothing.
  const release = { ...olds, colour: "b", service: "s-api-b", revision: "r1" };
  const { outs } = await swarmReleaseProvider.update!("s/api", release as never, moved as never);
  assert.deepEqual({ dockerHost: outs.dockerHost, colour: outs.colour, service: outs.service, revision: outs.revision }, { dockerHost: moved.dockerHost, colour: "b", service: "s-api-b", revision: "r1" });
});

test("the edge's Swarm configs and secrets: one no spec names, current or previous, is removable; the serving one and the one before are kept", () => {
  const spec = (...names: string[]) => ({ TaskTemplate: { ContainerSpec: { Configs: names.map((n) => ({ ConfigName: n })), Secrets: names.map((n) => ({ SecretName: `${n}-tls` })) } } });
  const server = { Spec: spec("s-haproxy-c"), PreviousSpec: spec("s-haproxy-b") };
  const stackConfigs = ["s-haproxy-a", "s-haproxy-b", "s-haproxy-c", "s-haproxy-d"];
  assert.deepEqual(removableFiles(stackConfigs, [server, { Spec: spec() }]), ["s-haproxy-a", "s-haproxy-d"]);
  assert.deepEqual(removableFiles(stackConfigs, [server], ["s-haproxy-d"]), ["s-haproxy-a"], "the one just created is kept before any service names it");
  assert.deepEqual(removableFiles(stackConfigs, []), stackConfigs, "after the services are gone (destroy), every one");
  const secrets = stackConfigs.map((n) => `${n}-tls`);
  assert.deepEqual(removableFiles(secrets, [server], [], "secret"), ["s-haproxy-a-tls", "s-haproxy-d-tls"], "secrets by the specs' secret names");
  assert.deepEqual(removableFiles(secrets, [server], [], "config"), secrets, "a config's name is no secret's");
});

test("an edge config: another text replaces it (create first, the old one deleted after the edge moved); another manager is stored only", async () => {
  const olds = { stack: "s", role: "edge-config", kind: "config", name: "s-haproxy-aaaa", content: "global\n", fileId: "id1", dockerHost: "unix:///n1.sock" };
  const changed = await swarmFileProvider.diff!("id1", olds, { ...olds, name: "s-haproxy-bbbb", content: "global\n  maxconn 10\n" });
  assert.deepEqual(changed.replaces, ["content", "name"]);
  assert.equal(changed.deleteBeforeReplace, false, "the edge needs the new one before the old one can go");
  const moved = await swarmFileProvider.diff!("id1", olds, { ...olds, dockerHost: "unix:///n2.sock" });
  assert.equal(moved.changes, true);
  assert.deepEqual(moved.replaces, []);
  const { fileId: _id, ...inputs } = olds;
  assert.equal((await swarmFileProvider.diff!("id1", olds, inputs)).changes, false, "fileId is an output");
});

test("the edge task's script is valid POSIX sh, reloads only files that passed `haproxy -c`, and forwards the stop signal", () => {
  const script = edgeTaskScript();
  const check = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
  assert.equal(check.status, 0, check.stderr);
  assert.match(script, / {2}if check; then\n(.*\n){2} {4}mv "\$NEXTPEM" "\$PEM"; mv "\$NEXT" "\$CFG"; kill -USR2 "\$pid"/);
  // Maintenance survives a reload: the runtime's entry written into the task's own map before the new worker reads it.
  assert.match(script, /: > "\$MAP"\n/, "an empty map of its own at start (the image's is root's)");
  assert.match(script, /if echo "show map \$MAP" \| socat stdio "unix-connect:\/var\/run\/haproxy\/admin\.sock" > \/tmp\/map\.now 2>\/dev\/null; then sed -n 's\/\^0x\[0-9a-f\]\* \/\/p' \/tmp\/map\.now > "\$MAP"; fi\n {4}mv "\$NEXTPEM"/);
  assert.match(script, /trap 'kill -USR1 \$pid' USR1/);
  assert.match(script, /= 'slipway-end-of-edge-files' \] \|\| return 1/, "a fetch cut short is never loaded");
  assert.deepEqual(configServerCommand(true).slice(-1), ["SYSTEM:cat /run/slipway/haproxy.cfg /run/secrets/tls.pem && echo slipway-end-of-edge-files"], "the config and its PEM from one task, in one answer");
});
