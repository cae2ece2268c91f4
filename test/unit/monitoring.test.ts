// Monitoring: every alert rule covered by a promtool test, the rendered Prometheus config, the stack's
// `monitoring` settings, and what the program declares with monitoring on and off (under Pulumi's mocks: no
// engine, no Docker). promtool itself runs in the toolchain tier: test/toolchain/promtool.test.ts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { declareProgram as declare } from "../support/declare";
import { STAGING_PROMETHEUS_VALUES } from "../support/monitoring";
import {
  alertmanagerCommand,
  alertRules,
  MONITORING_DIR,
  prometheusCommand,
  prometheusFiles,
  pushgatewayCommand,
  renderAlertmanagerConfig,
  renderPrometheusConfig,
  renderStackRules,
} from "../../infra/components/monitoring";
import { parse } from "yaml";
import { loadStackConfig, StackConfigError } from "../../stacks/load";

const values = STAGING_PROMETHEUS_VALUES;

test("every alert in alerts.yml has at least one promtool test that expects it to fire", () => {
  const rules = readFileSync(join(MONITORING_DIR, "alerts.yml"), "utf8");
  const tests = readFileSync(join(MONITORING_DIR, "alerts.test.yml"), "utf8");
  const alerts = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(alerts, ["ApiHigh5xxRate", "ApiHighP99Latency", "ApiReplicaDown", "ApiReplicasMissing", "EdgeDown", "EdgeHigh5xxRate", "BackupTooOld", "WalArchiveFailing", "DatabaseStandbyNotStreaming", "DatabaseStandbyLagging"]);
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
    alertFor: {},
    alerting: {
      enabled: false,
      image: "prom/alertmanager:v0.28.1",
      groupWaitSeconds: 30,
      groupIntervalSeconds: 300,
      repeatIntervalMinutes: 240,
      limits: { memoryMb: 64, cpus: 0.25 },
    },
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

test("program with monitoring on: Prometheus on the edge and monitoring networks, the Pushgateway on the monitoring one only, unpublished, config uploaded, limits, log rotation", () => {
  const { resources, error } = declare("staging", {
    "slipway:monitoring": { enabled: true, image: "slipway-local/prometheus:2", retentionHours: 72, scrapeIntervalSeconds: 5 },
  });
  assert.equal(error, undefined);
  const container = resources.find((r) => r.name === "monitoring-prometheus");
  assert.ok(container, "monitoring-prometheus declared");
  const i = container.inputs;
  assert.equal(i.name, "slipway-staging-prometheus");
  assert.equal(i.ports, undefined, "Prometheus is never published");
  assert.deepEqual(i.networksAdvanced.map((n: { name: string }) => n.name), ["slipway-staging-edge", "slipway-staging-monitoring"], "Prometheus scrapes the edge network and reaches the Pushgateway on the monitoring one");
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
  assert.deepEqual(pg.inputs.networksAdvanced.map((n: { name: string }) => n.name), ["slipway-staging-monitoring"], "no replica can push to the Pushgateway");
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

test("alertFor: the named alerts get the stack's `for:`, the rest keep the file's; an unknown name is refused", () => {
  const rendered = alertRules({ ApiReplicasMissing: 20, BackupTooOld: 0 });
  const rules = (parse(rendered) as { groups: { rules: { alert?: string; for?: string }[] }[] }).groups.flatMap((g) => g.rules);
  const forOf = (name: string) => rules.find((r) => r.alert === name)?.for;
  assert.equal(forOf("ApiReplicasMissing"), "20s");
  assert.equal(forOf("BackupTooOld"), "0s");
  assert.equal(forOf("ApiReplicaDown"), "1m", "untouched");
  assert.equal(alertRules({}), readFileSync(join(MONITORING_DIR, "alerts.yml"), "utf8"), "no overrides: the file as it is");
  assert.throws(() => alertRules({ ApiReplicaMissing: 20 }), /monitoring\.alertFor\.ApiReplicaMissing: no alert of that name in monitoring\/alerts\.yml \(there are: ApiHigh5xxRate, .*ApiReplicasMissing/);
  // promtool accepts the rendered rules: test/toolchain/promtool.test.ts.
});

test("Alertmanager config: one webhook receiver, resolved alerts sent, the token only as a file reference", () => {
  const config = parse(renderAlertmanagerConfig({ webhookUrl: "https://hooks.example.com/x", token: true, groupWaitSeconds: 1, groupIntervalSeconds: 5, repeatIntervalMinutes: 60 }));
  assert.deepEqual(config.route, { receiver: "stack", group_by: ["alertname", "stack"], group_wait: "1s", group_interval: "5s", repeat_interval: "60m" });
  assert.deepEqual(config.receivers, [{
    name: "stack",
    webhook_configs: [{ url: "https://hooks.example.com/x", send_resolved: true, http_config: { authorization: { type: "Bearer", credentials_file: "/etc/alertmanager/webhook-token" } } }],
  }]);
  const plain = parse(renderAlertmanagerConfig({ webhookUrl: "http://10.0.0.1:9000/", token: false, groupWaitSeconds: 30, groupIntervalSeconds: 300, repeatIntervalMinutes: 240 }));
  assert.equal(plain.receivers[0].webhook_configs[0].http_config, undefined);
  assert.deepEqual(alertmanagerCommand(), ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--web.listen-address=:9093"]);
  // Prometheus sends to the stack's Alertmanager when there is one, and to nobody otherwise.
  assert.match(prometheusFiles({ ...values, alertmanagerHost: "slipway-staging-alertmanager" })["prometheus.yml"], /alertmanagers:\n\s+- static_configs:\n\s+- targets: \["slipway-staging-alertmanager:9093"\]/);
  assert.match(prometheusFiles(values)["prometheus.yml"], /- targets: \[\]/);
});

test("stack config: alerting needs a webhook URL and monitoring on, each refusal naming its key", () => {
  const refused = (monitoring: unknown, key: RegExp) =>
    assert.throws(() => loadStackConfig("staging", { ...baseConfig, monitoring }), (e: unknown) => e instanceof StackConfigError && key.test(e.message));
  refused({ enabled: true, alerting: { enabled: true } }, /slipway:monitoring\.alerting\.webhookUrl: is required when monitoring\.alerting\.enabled is true/);
  refused({ enabled: false, alerting: { enabled: true, webhookUrl: "http://h/" } }, /slipway:monitoring\.alerting\.enabled: needs monitoring\.enabled: true/);
  refused({ enabled: true, alerting: { enabled: true, webhookUrl: "ftp://h/" } }, /slipway:monitoring\.alerting\.webhookUrl: must be an http\(s\) URL/);
  refused({ enabled: true, alertFor: { ApiReplicaDown: -1 } }, /slipway:monitoring\.alertFor\.ApiReplicaDown/);
  const on = loadStackConfig("staging", { ...baseConfig, monitoring: { enabled: true, alerting: { enabled: true, webhookUrl: "http://h:9/x" } } });
  assert.equal(on.monitoring.alerting.webhookUrl, "http://h:9/x");
});

test("program with alerting on: an Alertmanager on the monitoring network only, unpublished, that Prometheus sends to; a bad alertFor names the stack and key", () => {
  const { resources, error } = declare("staging", {
    "slipway:monitoring": { enabled: true, alerting: { enabled: true, webhookUrl: "http://hooks.internal/slipway", groupWaitSeconds: 2 } },
  });
  assert.equal(error, undefined);
  const am = resources.find((r) => r.name === "monitoring-alertmanager");
  assert.ok(am, "monitoring-alertmanager declared");
  assert.equal(am.inputs.name, "slipway-staging-alertmanager");
  assert.equal(am.inputs.ports, undefined, "never published");
  assert.deepEqual(am.inputs.networksAdvanced.map((n: { name: string }) => n.name), ["slipway-staging-monitoring"], "no replica can reach the Alertmanager's API");
  assert.deepEqual(am.inputs.uploads.map((u: { file: string }) => u.file), ["/etc/alertmanager/alertmanager.yml"], "no token file without the secret");
  assert.match(am.inputs.uploads[0].content, /url: http:\/\/hooks.internal\/slipway/);
  assert.match(am.inputs.uploads[0].content, /group_wait: 2s/);
  assert.equal(am.inputs.volumes[0].containerPath, "/alertmanager");
  assert.equal(resources.find((r) => r.name === "monitoring-alertmanager-image")?.inputs.name, "prom/alertmanager:v0.28.1");
  const prometheus = resources.find((r) => r.name === "monitoring-prometheus");
  assert.match(prometheus?.inputs.uploads[0].content, /targets: \["slipway-staging-alertmanager:9093"\]/);

  const bad = declare("staging", { "slipway:monitoring": { enabled: true, alertFor: { Nope: 5 } } });
  assert.match(bad.error ?? "", /stack "staging": slipway:monitoring\.alertFor\.Nope: no alert of that name/);
  assert.equal(declare("staging", { "slipway:monitoring": { enabled: true } }).resources.filter((r) => r.name.startsWith("monitoring-alertmanager")).length, 0);
});
