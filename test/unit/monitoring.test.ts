// Monitoring: every alert rule covered by a promtool test, the rendered Prometheus config, the stack's
// `monitoring` settings, and what the program declares with monitoring on and off (under Pulumi's mocks: no
// engine, no Docker). promtool itself runs in the toolchain tier: test/toolchain/promtool.test.ts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { declareProgram as declare } from "../support/declare";
import {
  EDGE_METRICS_PORT,
  MONITORING_DIR,
  prometheusCommand,
  prometheusFiles,
  PUSHGATEWAY_PORT,
  pushgatewayCommand,
  renderPrometheusConfig,
  renderStackRules,
} from "../../infra/components/monitoring";
import { loadStackConfig, StackConfigError } from "../../stacks/load";

const values = {
  stack: "slipway-staging",
  scrapeIntervalSeconds: 15,
  apiAlias: "api",
  apiPort: 3000,
  edgeHost: "slipway-staging-edge",
  edgeMetricsPort: EDGE_METRICS_PORT,
  pushgatewayHost: "slipway-staging-pushgateway",
  pushgatewayPort: PUSHGATEWAY_PORT,
  expectedReplicas: 2,
};

test("every alert in alerts.yml has at least one promtool test that expects it to fire", () => {
  const rules = readFileSync(join(MONITORING_DIR, "alerts.yml"), "utf8");
  const tests = readFileSync(join(MONITORING_DIR, "alerts.test.yml"), "utf8");
  const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(alerts, ["ApiHigh5xxRate", "ApiHighP99Latency", "ApiReplicaDown", "ApiReplicasMissing", "EdgeDown", "EdgeHigh5xxRate", "BackupTooOld"]);
  for (const alert of alerts) {
    assert.match(tests, new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels:`), `${alert} is tested firing`);
  }
});

test("the rendered config: replicas by DNS A records of the api alias, the edge exporter, rules beside it (promtool checks it: test/toolchain/promtool.test.ts)", () => {
  const files = prometheusFiles(values);
  const config = files["prometheus.yml"];
  assert.doesNotMatch(config, /\{\{/);
  assert.match(config, /scrape_interval: 15s/);
  assert.match(config, /scrape_timeout: 10s/);
  assert.match(config, /stack: slipway-staging/);
  assert.match(config, /dns_sd_configs:\n\s+- names: \[api\]\n\s+type: A\n\s+port: 3000/);
  assert.match(config, /targets: \["slipway-staging-edge:8405"\]/);
  // The Pushgateway's series keep the job and stack they were pushed with (job="slipway_backup").
  assert.match(config, /- job_name: pushgateway\n\s+honor_labels: true\n\s+static_configs:\n\s+- targets: \["slipway-staging-pushgateway:9091"\]/);
  assert.match(files["stack-rules.yml"], /record: slipway:api_expected_replicas\n\s+expr: vector\(2\)/);
});

test("renderPrometheusConfig: a short interval caps the scrape timeout; bad values and unknown placeholders are errors", () => {
  assert.match(renderPrometheusConfig("{{scrapeIntervalSeconds}}/{{scrapeTimeoutSeconds}}", values), /^15\/10$/);
  assert.equal(renderPrometheusConfig("{{scrapeTimeoutSeconds}}", { ...values, scrapeIntervalSeconds: 5 }), "5");
  assert.throws(() => renderPrometheusConfig("{{nope}}", values), /unknown placeholder \{\{nope\}\}/);
  assert.throws(() => renderPrometheusConfig("x", { ...values, edgeHost: "a b" }), /edgeHost "a b"/);
  assert.throws(() => renderPrometheusConfig("x", { ...values, pushgatewayHost: "" }), /pushgatewayHost ""/);
  assert.deepEqual(pushgatewayCommand(), ["--web.listen-address=:9091", "--persistence.file=/pushgateway/metrics", "--persistence.interval=1m"]);
  assert.throws(() => renderStackRules(0), /expectedReplicas 0/);
  assert.deepEqual(prometheusCommand({ retentionHours: 48 }), [
    "--config.file=/etc/prometheus/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--storage.tsdb.retention.time=48h",
    "--web.listen-address=:9090",
  ]);
});

const baseConfig = {
  environment: "staging",
  images: { api: "a:1", edge: "e:1", postgres: "p:1" },
  api: { replicas: 2 },
  edge: { port: 8080 },
  database: {},
};

test("stack config: monitoring is off by default, its defaults live in the schema, unknown keys are named", () => {
  const cfg = loadStackConfig("staging", baseConfig);
  assert.deepEqual(cfg.monitoring, {
    enabled: false,
    image: "prom/prometheus:v2.53.3",
    retentionHours: 168,
    scrapeIntervalSeconds: 15,
    limits: { memoryMb: 512, cpus: 0.5 },
    restartPolicy: "unless-stopped",
    pushgatewayImage: "prom/pushgateway:v1.11.0",
    pushgatewayLimits: { memoryMb: 64, cpus: 0.25 },
  });
  const on = loadStackConfig("staging", { ...baseConfig, monitoring: { enabled: true, retentionHours: 24 } });
  assert.equal(on.monitoring.enabled, true);
  assert.equal(on.monitoring.retentionHours, 24);
  assert.throws(
    () => loadStackConfig("staging", { ...baseConfig, monitoring: { enabeld: true } }),
    (e: unknown) => e instanceof StackConfigError && /slipway:monitoring\.enabeld: unknown key; did you mean slipway:monitoring\.enabled\?/.test(e.message),
  );
  assert.throws(
    () => loadStackConfig("staging", { ...baseConfig, monitoring: { scrapeIntervalSeconds: 0 } }),
    (e: unknown) => e instanceof StackConfigError && /slipway:monitoring\.scrapeIntervalSeconds/.test(e.message),
  );
});

test("program: no Prometheus unless monitoring.enabled", () => {
  const { resources, error } = declare("staging", {});
  assert.equal(error, undefined);
  assert.equal(resources.filter((r) => r.name.startsWith("monitoring")).length, 0);
});

test("program with monitoring on: Prometheus on the edge network, unpublished, config uploaded, limits, log rotation", () => {
  const { resources, error } = declare("staging", {
    "slipway:monitoring": { enabled: true, image: "slipway-local/prometheus:2", retentionHours: 72, scrapeIntervalSeconds: 5 },
  });
  assert.equal(error, undefined);
  const container = resources.find((r) => r.name === "monitoring-prometheus");
  assert.ok(container, "monitoring-prometheus declared");
  const i = container.inputs;
  assert.equal(i.name, "slipway-staging-prometheus");
  assert.equal(i.ports, undefined, "Prometheus is never published");
  assert.deepEqual(i.networksAdvanced.map((n: { name: string }) => n.name), ["slipway-staging-edge"]);
  assert.ok(i.command.includes("--storage.tsdb.retention.time=72h"));
  assert.deepEqual(i.uploads.map((u: { file: string }) => u.file), [
    "/etc/prometheus/prometheus.yml",
    "/etc/prometheus/alerts.yml",
    "/etc/prometheus/stack-rules.yml",
  ]);
  const config = i.uploads[0].content as string;
  assert.match(config, /scrape_interval: 5s/);
  assert.match(config, /names: \[api\]/);
  assert.match(config, /targets: \["slipway-staging-edge:8405"\]/);
  assert.equal(i.uploads[1].content, readFileSync(join(MONITORING_DIR, "alerts.yml"), "utf8"));
  const replicas = Number(/vector\((\d+)\)/.exec(i.uploads[2].content as string)?.[1]);
  const declared = resources.find((r) => r.type.includes("ReplicaSet"));
  assert.equal(replicas, declared?.inputs.replicas, "expected replicas = api.replicas");
  assert.equal(i.memory, 512);
  assert.equal(i.cpuQuota, 50_000);
  assert.equal(i.restart, "unless-stopped");
  assert.equal(i.logDriver, "json-file");
  assert.ok(i.logOpts["max-size"] && i.logOpts["max-file"], "log rotation");
  assert.equal(i.volumes[0].containerPath, "/prometheus");
  assert.ok(!i.volumes[0].hostPath, "named volume");
  assert.match(i.healthcheck.tests.join(" "), /promtool check ready/);
  assert.match(config, /targets: \["slipway-staging-pushgateway:9091"\]/);

  // The Pushgateway beside it: same network, never published, pushed groups kept in a volume.
  const pg = resources.find((r) => r.name === "monitoring-pushgateway");
  assert.ok(pg, "monitoring-pushgateway declared");
  assert.equal(pg.inputs.name, "slipway-staging-pushgateway");
  assert.equal(pg.inputs.ports, undefined, "the Pushgateway is never published");
  assert.deepEqual(pg.inputs.networksAdvanced.map((n: { name: string }) => n.name), ["slipway-staging-edge"]);
  assert.ok(pg.inputs.command.includes("--persistence.file=/pushgateway/metrics"));
  assert.equal(pg.inputs.volumes[0].containerPath, "/pushgateway");
  assert.equal(pg.inputs.memory, 64);
  assert.equal(pg.inputs.logDriver, "json-file");
  assert.match(pg.inputs.healthcheck.tests.join(" "), /wget .*\/-\/ready/);
  const image = resources.find((r) => r.name === "monitoring-pushgateway-image");
  assert.equal(image?.inputs.name, "prom/pushgateway:v1.11.0", "the official image by default");
});

test("program with monitoring and backups on: the pre-deploy backup pushes to the stack's Pushgateway", () => {
  const { resources, error } = declare("staging", {
    "slipway:monitoring": { enabled: true },
    "slipway:backup": { enabled: true, dir: "/var/backups/slipway" },
  });
  assert.equal(error, undefined);
  const backup = resources.find((r) => r.name === "deploy-backup");
  assert.ok(backup, "deploy-backup declared");
  assert.match(backup.inputs.create as string, /--pushgateway slipway-staging-pushgateway( |$)/);
  const off = declare("staging", { "slipway:backup": { enabled: true, dir: "/var/backups/slipway" } });
  assert.doesNotMatch(off.resources.find((r) => r.name === "deploy-backup")?.inputs.create as string, /--pushgateway/, "no Pushgateway without monitoring");
});
