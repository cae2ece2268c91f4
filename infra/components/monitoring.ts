// Monitoring of one stack (optional: `monitoring.enabled`): a Prometheus server on the edge network — where the
// API replicas answer to their DNS alias and HAProxy's exporter listens in the edge holder's namespace — never
// published to the host. Its config (monitoring/prometheus.yml rendered), the alert rules (monitoring/alerts.yml,
// as tested by promtool) and the stack's own rules (the declared replica count) are uploaded into the container;
// samples live in a named volume, so a new config (a replaced container) keeps the history.
// Beside it a Pushgateway (never published, and only on the stack's monitoring network: no API replica can reach it,
// so none can push a backup timestamp that silences BackupTooOld), scraped with honor_labels: the backup verb pushes
// slipway_backup_* there after each successful backup (src/backup/metrics.ts), which BackupTooOld reads; it
// keeps what was pushed in its own volume (--persistence.file), so a replaced container does not forget the last
// backup.
// With monitoring.alerting on, an Alertmanager (monitoring network only, never published: no replica can silence an
// alert through its API) receives the alerts Prometheus fires and
// notifies one webhook receiver, resolved alerts included; its notification log lives in a volume, so a replaced
// container does not notify twice.
import { readFileSync, realpathSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { parseDocument, stringify } from "yaml";
import { METRICS_PORT } from "../../src/edge/haproxy-config";
import { PUSHGATEWAY_PORT } from "../../src/backup/metrics";
import type { MonitoringSettings, StackConfig } from "../../stacks/schema";
import { LABEL_ROLE, ROLES } from "../../src/vocabulary";
import { containerLimits, dockerLabels, logRotation } from "./limits";

/** Port HAProxy's `frontend metrics` (prometheus-exporter service) binds inside the edge's namespace. */
export const EDGE_METRICS_PORT = METRICS_PORT;
export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_CONFIG_DIR = "/etc/prometheus";
const PROMETHEUS_DATA_DIR = "/prometheus";
export { PUSHGATEWAY_PORT };
/** The official image's working directory (owned by its user); the persistence file lives there, on a volume. */
const PUSHGATEWAY_DATA_DIR = "/pushgateway";
export const ALERTMANAGER_PORT = 9093;
const ALERTMANAGER_CONFIG_DIR = "/etc/alertmanager";
const ALERTMANAGER_DATA_DIR = "/alertmanager";
/** The receiver's bearer token (slipway:alertWebhookToken), a file beside the config: never in the config itself. */
export const ALERTMANAGER_TOKEN_FILE = `${ALERTMANAGER_CONFIG_DIR}/webhook-token`;

/**
 * The repository's monitoring/ directory. Through the real path of this file: a test stack's work directory links
 * infra/ into a temporary directory that has no monitoring/ of its own.
 */
export const MONITORING_DIR = path.resolve(realpathSync(__dirname), "..", "..", "monitoring");

export interface PrometheusConfigValues {
  /** external label `stack` on every series and alert, e.g. "slipway-staging". */
  stack: string;
  scrapeIntervalSeconds: number;
  apiAlias: string;
  apiPort: number;
  edgeHost: string;
  edgeMetricsPort: number;
  /** The Pushgateway container's name (resolves on the network) and port. */
  pushgatewayHost: string;
  pushgatewayPort: number;
  /** The stack's Alertmanager container (monitoring.alerting), or none: Prometheus then evaluates rules only. */
  alertmanagerHost?: string;
}

/** Fills monitoring/prometheus.yml's {{name}} placeholders; an unknown or unfilled one is an error. */
export function renderPrometheusConfig(template: string, values: PrometheusConfigValues): string {
  const filled: Record<string, string> = {
    stack: requireName("stack", values.stack),
    scrapeIntervalSeconds: String(requireInt("scrapeIntervalSeconds", values.scrapeIntervalSeconds)),
    // A scrape may take at most the interval, and 10 s at most (Prometheus refuses a timeout above the interval).
    scrapeTimeoutSeconds: String(Math.min(10, requireInt("scrapeIntervalSeconds", values.scrapeIntervalSeconds))),
    apiAlias: requireName("apiAlias", values.apiAlias),
    apiPort: String(requireInt("apiPort", values.apiPort)),
    edgeHost: requireName("edgeHost", values.edgeHost),
    edgeMetricsPort: String(requireInt("edgeMetricsPort", values.edgeMetricsPort)),
    pushgatewayHost: requireName("pushgatewayHost", values.pushgatewayHost),
    pushgatewayPort: String(requireInt("pushgatewayPort", values.pushgatewayPort)),
    alertmanagerTargets: values.alertmanagerHost === undefined ? "" : `"${requireName("alertmanagerHost", values.alertmanagerHost)}:${ALERTMANAGER_PORT}"`,
  };
  return template.replace(/\{\{(\w*)\}\}/g, (_match, key: string) => {
    const value = filled[key];
    if (value === undefined) throw new Error(`renderPrometheusConfig: unknown placeholder {{${key}}}`);
    return value;
  });
}

/** The rules that depend on the stack: the replica count the alert rules compare `up` with. */
export function renderStackRules(expectedReplicas: number): string {
  return [
    "# Rendered by infra/components/monitoring.ts from the stack's api.replicas.",
    "groups:",
    "  - name: slipway-stack",
    "    rules:",
    "      - record: slipway:api_expected_replicas",
    `        expr: vector(${requireInt("expectedReplicas", expectedReplicas)})`,
    "",
  ].join("\n");
}

/**
 * monitoring/alerts.yml with the stack's `for:` durations (monitoring.alertFor, alert name → seconds) written in. A name
 * that is no alert of the file is an error naming the key and the alerts there are.
 */
export function renderAlertRules(template: string, alertFor: Record<string, number>): string {
  const doc = parseDocument(template);
  const rules = (doc.toJS() as { groups: { rules: { alert?: string }[] }[] }).groups.flatMap((g, gi) =>
    g.rules.map((r, ri) => ({ alert: r.alert, gi, ri })).filter((r) => r.alert !== undefined));
  for (const [name, seconds] of Object.entries(alertFor)) {
    const found = rules.filter((r) => r.alert === name);
    if (found.length === 0) {
      throw new Error(`monitoring.alertFor.${name}: no alert of that name in monitoring/alerts.yml (there are: ${rules.map((r) => r.alert).join(", ")})`);
    }
    for (const r of found) doc.setIn(["groups", r.gi, "rules", r.ri, "for"], `${requireSeconds(`alertFor.${name}`, seconds)}s`);
  }
  if (Object.keys(alertFor).length === 0) return template;
  return `# monitoring/alerts.yml with the stack's monitoring.alertFor written in (infra/components/monitoring.ts).\n${doc.toString()}`;
}

export interface AlertmanagerConfigValues {
  webhookUrl: string;
  /** Whether a bearer token file sits at ALERTMANAGER_TOKEN_FILE. */
  token: boolean;
  groupWaitSeconds: number;
  groupIntervalSeconds: number;
  repeatIntervalMinutes: number;
}

/** Alertmanager's config: every alert of the stack to one webhook receiver, grouped by alert name, resolved ones too. */
export function renderAlertmanagerConfig(v: AlertmanagerConfigValues): string {
  const webhook: Record<string, unknown> = { url: v.webhookUrl, send_resolved: true };
  if (v.token) webhook.http_config = { authorization: { type: "Bearer", credentials_file: ALERTMANAGER_TOKEN_FILE } };
  return `# Rendered by infra/components/monitoring.ts from the stack's monitoring.alerting.\n${stringify({
    route: {
      receiver: "stack",
      group_by: ["alertname", "stack"],
      group_wait: `${requireSeconds("groupWaitSeconds", v.groupWaitSeconds)}s`,
      group_interval: `${requireInt("groupIntervalSeconds", v.groupIntervalSeconds)}s`,
      repeat_interval: `${requireInt("repeatIntervalMinutes", v.repeatIntervalMinutes)}m`,
    },
    receivers: [{ name: "stack", webhook_configs: [webhook] }],
  })}`;
}

/** The stack's alert rules: monitoring/alerts.yml with its monitoring.alertFor (the program checks it before anything runs). */
export function alertRules(alertFor: Record<string, number>, dir = MONITORING_DIR): string {
  return renderAlertRules(readFileSync(path.join(dir, "alerts.yml"), "utf8"), alertFor);
}

/** The Alertmanager's arguments (the official image's defaults plus the listen address). */
export function alertmanagerCommand(): string[] {
  return [`--config.file=${ALERTMANAGER_CONFIG_DIR}/alertmanager.yml`, `--storage.path=${ALERTMANAGER_DATA_DIR}`, `--web.listen-address=:${ALERTMANAGER_PORT}`];
}

/** Every file uploaded to PROMETHEUS_CONFIG_DIR, by name. */
export function prometheusFiles(
  values: PrometheusConfigValues & { expectedReplicas: number; alertFor?: Record<string, number> },
  dir = MONITORING_DIR,
): Record<string, string> {
  return {
    "prometheus.yml": renderPrometheusConfig(readFileSync(path.join(dir, "prometheus.yml"), "utf8"), values),
    "alerts.yml": alertRules(values.alertFor ?? {}, dir),
    "stack-rules.yml": renderStackRules(values.expectedReplicas),
  };
}

/** The server's arguments (the official image's defaults, plus retention and listen address). */
export function prometheusCommand(settings: Pick<MonitoringSettings, "retentionHours">): string[] {
  return [
    `--config.file=${PROMETHEUS_CONFIG_DIR}/prometheus.yml`,
    `--storage.tsdb.path=${PROMETHEUS_DATA_DIR}`,
    `--storage.tsdb.retention.time=${requireInt("retentionHours", settings.retentionHours)}h`,
    `--web.listen-address=:${PROMETHEUS_PORT}`,
  ];
}

/** The Pushgateway's arguments: pushed groups kept in the volume (written every minute and on shutdown). */
export function pushgatewayCommand(): string[] {
  return [`--web.listen-address=:${PUSHGATEWAY_PORT}`, `--persistence.file=${PUSHGATEWAY_DATA_DIR}/metrics`, "--persistence.interval=1m"];
}

export interface MonitoringArgs {
  prefix: string;
  settings: MonitoringSettings;
  /** The edge network: the replicas and the edge holder are there. */
  network: pulumi.Input<string>;
  api: { alias: string; port: number; replicas: number };
  /** Name of the edge holder container (HAProxy runs in its network namespace) and the exporter's port. */
  edge: { host: pulumi.Input<string>; metricsPort: number };
  labels: Record<string, string>;
  /** Docker json-file rotation, as on every container of the stack. */
  logs: StackConfig["logs"];
  /** slipway:alertWebhookToken (a secret), the receiver's bearer token, when monitoring.alerting is on. */
  alertWebhookToken?: pulumi.Input<string>;
}

export class Monitoring extends pulumi.ComponentResource {
  readonly containerName: pulumi.Output<string>;
  readonly pushgatewayName: pulumi.Output<string>;
  /** The Alertmanager container (monitoring.alerting.enabled), or undefined. */
  readonly alertmanagerName?: pulumi.Output<string>;
  /** Prometheus, the Pushgateway and the Alertmanager; not the replicas or the edge. Not internal: alerts leave by it. */
  readonly network: docker.Network;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("slipway:index:Monitoring", name, {}, opts);
    const s = args.settings;
    const labels = dockerLabels({ ...args.labels, [LABEL_ROLE]: ROLES.prometheus });
    this.network = new docker.Network(`${name}-network`, { name: `${args.prefix}-monitoring`, labels: dockerLabels(args.labels) }, { parent: this });
    const image = new docker.RemoteImage(`${name}-image`, { name: s.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-data`, { name: `${args.prefix}-prometheus`, labels }, { parent: this });
    const pushgateway = this.pushgateway(name, args);
    const alertmanager = s.alerting.enabled ? this.alertmanager(name, args) : undefined;
    const files = pulumi.all([args.edge.host, pushgateway.name, alertmanager?.name]).apply(([edgeHost, pushgatewayHost, alertmanagerHost]) =>
      prometheusFiles({
        stack: args.prefix,
        scrapeIntervalSeconds: s.scrapeIntervalSeconds,
        apiAlias: args.api.alias,
        apiPort: args.api.port,
        edgeHost,
        edgeMetricsPort: args.edge.metricsPort,
        pushgatewayHost,
        pushgatewayPort: PUSHGATEWAY_PORT,
        expectedReplicas: args.api.replicas,
        alertFor: s.alertFor,
        ...(alertmanagerHost === undefined ? {} : { alertmanagerHost }),
      }),
    );
    const container = new docker.Container(
      `${name}-prometheus`,
      {
        name: `${args.prefix}-prometheus`,
        image: image.imageId,
        command: prometheusCommand(s),
        uploads: ["prometheus.yml", "alerts.yml", "stack-rules.yml"].map((file) => ({
          file: `${PROMETHEUS_CONFIG_DIR}/${file}`,
          content: files.apply((f) => f[file]),
        })),
        volumes: [{ volumeName: volume.name, containerPath: PROMETHEUS_DATA_DIR }],
        // Not published: operators query it with `docker exec <container> promtool query instant …`. On the edge network
        // to scrape the replicas and HAProxy's exporter, on the monitoring network for the Pushgateway and Alertmanager.
        networksAdvanced: [{ name: args.network }, { name: this.network.name }],
        healthcheck: readiness(["CMD", "promtool", "check", "ready", `--url=http://127.0.0.1:${PROMETHEUS_PORT}`]),
        wait: true,
        waitTimeout: 120,
        restart: s.restartPolicy,
        ...containerLimits(s.limits),
        ...logRotation(args.logs),
        labels,
        stopTimeout: 30,
      },
      // A new config (uploads) replaces the container; it has a fixed name, so the old one goes first. The samples
      // stay in the volume: monitoring pauses for the seconds the new server takes to start.
      { parent: this, deleteBeforeReplace: true },
    );
    this.containerName = container.name;
    this.pushgatewayName = pushgateway.name;
    this.alertmanagerName = alertmanager?.name;
    this.registerOutputs({ containerName: this.containerName, pushgatewayName: this.pushgatewayName, alertmanagerName: this.alertmanagerName });
  }

  private alertmanager(name: string, args: MonitoringArgs): docker.Container {
    const a = args.settings.alerting;
    if (a.webhookUrl === undefined) throw new Error("monitoring.alerting.webhookUrl is required when alerting is enabled"); // the schema refuses it first
    const labels = dockerLabels({ ...args.labels, [LABEL_ROLE]: ROLES.alertmanager });
    const image = new docker.RemoteImage(`${name}-alertmanager-image`, { name: a.image, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-alertmanager-data`, { name: `${args.prefix}-alertmanager`, labels }, { parent: this });
    const config = renderAlertmanagerConfig({ ...a, webhookUrl: a.webhookUrl, token: args.alertWebhookToken !== undefined });
    const uploads: docker.types.input.ContainerUpload[] = [{ file: `${ALERTMANAGER_CONFIG_DIR}/alertmanager.yml`, content: config }];
    if (args.alertWebhookToken !== undefined) {
      // Secret in state and output. Uploaded files are owned by root, and Alertmanager runs as `nobody`: the file is
      // world-readable inside a container whose only process is Alertmanager, and in neither its env nor its config.
      uploads.push({ file: ALERTMANAGER_TOKEN_FILE, content: pulumi.secret(args.alertWebhookToken), permissions: "0444" });
    }
    return new docker.Container(
      `${name}-alertmanager`,
      {
        name: `${args.prefix}-alertmanager`,
        image: image.imageId,
        command: alertmanagerCommand(),
        uploads,
        volumes: [{ volumeName: volume.name, containerPath: ALERTMANAGER_DATA_DIR }],
        // Not published: Prometheus reaches it by name; operators use `docker exec <container> amtool …`.
        networksAdvanced: [{ name: this.network.name }],
        healthcheck: readiness(["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${ALERTMANAGER_PORT}/-/ready`]),
        wait: true,
        waitTimeout: 120,
        restart: args.settings.restartPolicy,
        ...containerLimits(a.limits),
        ...logRotation(args.logs),
        labels,
        stopTimeout: 10,
      },
      { parent: this, deleteBeforeReplace: true },
    );
  }

  private pushgateway(name: string, args: MonitoringArgs): docker.Container {
    const s = args.settings;
    const labels = dockerLabels({ ...args.labels, [LABEL_ROLE]: ROLES.pushgateway });
    const image = new docker.RemoteImage(`${name}-pushgateway-image`, { name: s.pushgatewayImage, keepLocally: true }, { parent: this });
    const volume = new docker.Volume(`${name}-pushgateway-data`, { name: `${args.prefix}-pushgateway`, labels }, { parent: this });
    return new docker.Container(
      `${name}-pushgateway`,
      {
        name: `${args.prefix}-pushgateway`,
        image: image.imageId,
        command: pushgatewayCommand(),
        volumes: [{ volumeName: volume.name, containerPath: PUSHGATEWAY_DATA_DIR }],
        // Not published: the backup verb pushes through `docker exec` (busybox wget against 127.0.0.1).
        networksAdvanced: [{ name: this.network.name }],
        healthcheck: readiness(["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${PUSHGATEWAY_PORT}/-/ready`]),
        wait: true,
        waitTimeout: 120,
        restart: s.restartPolicy,
        ...containerLimits(s.pushgatewayLimits),
        ...logRotation(args.logs),
        labels,
        stopTimeout: 10,
      },
      { parent: this, deleteBeforeReplace: true },
    );
  }
}

function requireName(key: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value)) throw new Error(`monitoring: ${key} "${value}" must be letters, digits, '_', '.', '-'`);
  return value;
}

function requireSeconds(key: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new Error(`monitoring: ${key} ${value} must be a whole number of seconds`);
  return value;
}

function requireInt(key: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`monitoring: ${key} ${value} must be a positive integer`);
  return value;
}

/** Docker's health check for a monitoring container: `tests` every 2 s, up to a minute to become ready (`wait: true`). */
function readiness(tests: string[]): docker.types.input.ContainerHealthcheck {
  return { tests, interval: "2s", timeout: "3s", retries: 30, startPeriod: "2s" };
}
