// The slipway program: one stack = two networks, PostgreSQL, the HAProxy edge and the API replicas,
// with backup → migrate → rollout on every new image. Config is read and validated once, here.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { loadStackConfig, namespaceConfig, StackConfigError } from "../stacks/load";
import { LOCAL_PASSPHRASE, saltOpensWith } from "../stacks/secrets";
import { Networks } from "./components/networks";
import { Database, DB_HOST } from "./components/database";
import { Edge } from "./components/edge";
import { DeploySteps } from "./components/deploy-steps";
import { ApiService } from "./components/api-service";
import { alertRules, EDGE_METRICS_PORT, Monitoring } from "./components/monitoring";
import { dockerConnection, edgeUrl as clientUrl, processConnectEnv, publishedHost } from "../src/docker/connect";
import type { ProductionFacts } from "../stacks/policy";
import { DB_ROLES, LABEL_PROJECT, LABEL_STACK } from "../src/vocabulary";
import { connectDocker } from "../src/docker";
import { engineAncestor, lockName, releaseLockSync, takeStackLock } from "../src/docker/stack-lock";
import { LOCK_DEFAULTS, type StackConfig } from "../stacks/schema";

const stack = pulumi.getStack();

/** The `encryptionsalt` of Pulumi.<stack>.yaml beside Pulumi.yaml (passphrase secrets provider), if any. */
function stackFileSalt(): string | undefined {
  const file = path.resolve(__dirname, "..", `Pulumi.${stack.split("/").pop()}.yaml`);
  if (!existsSync(file)) return undefined;
  const doc = (parseYaml(readFileSync(file, "utf8")) ?? {}) as { encryptionsalt?: unknown };
  return typeof doc.encryptionsalt === "string" ? doc.encryptionsalt : undefined;
}

/** The Docker engine named by dockerHost (else DOCKER_HOST), when it is reached over unencrypted TCP. */
function plainTcp(dockerHost: string | undefined): Pick<ProductionFacts, "plainTcp"> {
  let kind: string;
  try {
    kind = dockerConnection(dockerHost, processConnectEnv()).kind;
  } catch {
    return {}; // unreachable as named: the providers report it with the host and the fix
  }
  if (kind !== "http") return {};
  return { plainTcp: dockerHost ? { from: "slipway:dockerHost", host: dockerHost } : { from: "DOCKER_HOST", host: process.env.DOCKER_HOST ?? "" } };
}
const project = pulumi.getProject();
const config = new pulumi.Config("slipway");

let cfg: StackConfig;
try {
  // Every `slipway:` key, so a typo (`api.replicaz`) is an error naming it, not a silently ignored setting.
  // Production whose secrets the local default passphrase opens, whose Docker engine is plain tcp://, or whose
  // pre-deploy backup would stay on a throwaway hosted runner, is refused before anything is declared.
  cfg = loadStackConfig(stack, namespaceConfig(pulumi.runtime.allConfig()), (c) => ({
    localPassphrase: saltOpensWith(stackFileSalt(), LOCAL_PASSPHRASE),
    ...plainTcp(c.dockerHost),
    hostedRunner: process.env.RUNNER_ENVIRONMENT === "github-hosted",
  }));
} catch (e) {
  if (e instanceof StackConfigError) throw new pulumi.RunError(e.message);
  throw e;
}
// The SDK knows which config keys were set with --secret but does not declare the helper in its types.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };
for (const [key, how] of [["secretEnv", "--path 'secretEnv.NAME' ..."], ["tlsCertificate", "tlsCertificate < fullchain.pem"], ["tlsKey", "tlsKey < key.pem"], ["alertWebhookToken", "alertWebhookToken < token.txt"]]) {
  if (pulumi.runtime.allConfig()[`slipway:${key}`] !== undefined && !isConfigSecret(`slipway:${key}`)) {
    throw new pulumi.RunError(`stack "${stack}": slipway:${key} must be set as a secret (pulumi config set --secret ${how})`);
  }
}
if (cfg.monitoring.enabled) {
  try {
    alertRules(cfg.monitoring.alertFor); // an alertFor naming no alert: refused before anything runs
  } catch (e) {
    throw new pulumi.RunError(`stack "${stack}": slipway:${(e as Error).message}`);
  }
}
const secretEnv = config.getSecretObject<Record<string, string>>("secretEnv") ?? pulumi.secret({});
if (cfg.edge.tls.enabled) {
  const missing = ["tlsCertificate", "tlsKey"].filter((k) => config.get(k) === undefined);
  if (missing.length > 0) {
    throw new pulumi.RunError(`stack "${stack}": slipway:edge.tls.enabled needs ${missing.map((k) => `slipway:${k}`).join(" and ")} (from stdin, never on the command line: pulumi config set --secret tlsCertificate < fullchain.pem; pulumi config set --secret tlsKey < key.pem)`);
  }
}
// One PEM bundle (chain, then key), secret end to end: config → EdgeProxy state → a file in the HAProxy container.
const tlsPem = cfg.edge.tls.enabled
  ? pulumi.all([config.requireSecret("tlsCertificate"), config.requireSecret("tlsKey")]).apply(([cert, key]) => `${cert.trim()}\n${key.trim()}\n`)
  : undefined;

const prefix = `${project}-${stack}`;

/**
 * An update holds the stack's lock on its Docker host (src/docker/stack-lock.ts) from before anything of the stack is
 * touched until the program ends, so the backup, restore and maintenance verbs wait for it (and it for them). Every
 * Docker object of the stack depends on taking it (dockerOpts); the deploy steps and the replicas depend on those.
 * A preview takes nothing. Released when the program's work is done; if the program dies, its lock is stale at once
 * on this host (its pid is gone) and it is removed synchronously on exit when it can be.
 */
function stackLock(): Promise<pulumi.Resource[]> {
  // Under the unit tests' mocks (no engine) there is no Docker host to lock.
  const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as typeof import("@pulumi/pulumi/runtime/mocks");
  if (pulumi.runtime.isDryRun() || pulumi.runtime.getMonitor() instanceof MockMonitor) return Promise.resolve([]);
  const host = cfg.dockerHost;
  const waitMs = LOCK_DEFAULTS.waitSeconds * 1000;
  return takeStackLock(connectDocker(host), { prefix, holder: "deploy", waitMs, engine: engineAncestor(), log: (line) => pulumi.log.info(line) }).then(
    (lock) => {
      if (lock.taken) {
        let done = false;
        process.once("beforeExit", () => {
          done = true;
          void lock.release();
        });
        process.once("exit", () => {
          if (!done) releaseLockSync(host, lockName(prefix), process.pid);
        });
      }
      return [];
    },
    (err: Error) => {
      throw new pulumi.RunError(`stack "${stack}": ${err.message}`);
    },
  );
}
const production = cfg.environment === "production";
const labels = { [LABEL_PROJECT]: project, [LABEL_STACK]: prefix };
const API_ALIAS = "api";

// Every Docker object of the stack goes to the engine the stack names (dockerHost), or to the
// operator's DOCKER_HOST / local engine when it names none.
const dockerOpts: pulumi.ComponentResourceOptions = {
  ...(cfg.dockerHost ? { providers: [new docker.Provider("docker-host", { host: cfg.dockerHost })] } : {}),
  dependsOn: stackLock(),
};

const networks = new Networks("net", { prefix, labels }, dockerOpts);
const db = new Database("db", {
  prefix,
  image: cfg.images.postgres,
  network: networks.backend.name,
  settings: cfg.database,
  labels,
  production,
  logs: cfg.logs,
  ...(cfg.backup?.wal.enabled ? { wal: cfg.backup.wal } : {}),
}, dockerOpts);
const edge = new Edge("edge", {
  prefix,
  image: cfg.images.edge,
  network: networks.edge.name,
  settings: cfg.edge,
  api: { alias: API_ALIAS, port: cfg.api.port, readinessPath: cfg.api.healthcheck.path },
  labels,
  production,
  logs: cfg.logs,
  ...(tlsPem ? { tlsPem } : {}),
  ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
}, dockerOpts);
// Prometheus and a Pushgateway (monitoring.enabled): scrapes the replicas, the edge's exporter and what backups
// pushed, on the edge network, not published. Declared before the deploy steps: their backup pushes to it.
const monitoring = cfg.monitoring.enabled
  ? new Monitoring("monitoring", {
    prefix,
    settings: cfg.monitoring,
    network: networks.edge.name,
    api: { alias: API_ALIAS, port: cfg.api.port, replicas: cfg.api.replicas },
    edge: { host: edge.holderName, metricsPort: EDGE_METRICS_PORT },
    labels,
    logs: cfg.logs,
    ...(cfg.monitoring.alerting.enabled && config.get("alertWebhookToken") !== undefined
      ? { alertWebhookToken: config.requireSecret("alertWebhookToken") }
      : {}),
  }, dockerOpts)
  : undefined;
const steps = new DeploySteps(
  "deploy",
  {
    prefix,
    image: cfg.images.api,
    backendNetwork: networks.backend.name,
    dbContainer: db.containerName,
    dbContainerId: db.container.id,
    dbUser: db.user,
    dbName: db.database,
    ownerPassword: db.ownerPassword,
    apiPassword: db.apiPassword,
    backup: cfg.backup,
    ...(monitoring ? { pushgateway: monitoring.pushgatewayName } : {}),
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
    // The repository root (the program runs with infra/ as its working directory).
    projectDir: path.resolve(__dirname, ".."),
  },
  { dependsOn: [db] },
);
const api = new ApiService(
  "api",
  {
    prefix,
    image: cfg.images.api,
    settings: cfg.api,
    edgeNetwork: networks.edge.name,
    backendNetwork: networks.backend.name,
    alias: API_ALIAS,
    edgeBackend: edge.backend,
    // As the API's own role (DML only). Secrets (its password, every secretEnv value) reach the replicas as files
    // (/run/secrets/<NAME>, the env has NAME_FILE), and enter the revision only keyed with the stack's secretsKey.
    env: {
      ...cfg.api.env,
      PORT: String(cfg.api.port),
      PGHOST: DB_HOST,
      PGUSER: DB_ROLES.api,
      PGDATABASE: db.database,
    },
    secrets: pulumi.all([db.apiPassword, secretEnv]).apply(([password, extra]): Record<string, string> => ({ ...extra, PGPASSWORD: password })),
    secretsKey: pulumi.secret(new random.RandomPassword("api-secrets-key", { length: 48, special: false }).result),
    labels,
    logs: cfg.logs,
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
  },
  { dependsOn: [steps.done, edge] },
);

// Where clients reach the edge: edge.publicUrl when set; else, on a remote dockerHost, that host's address (or the
// specific edge.bindAddress).
const edgeHost = publishedHost(cfg.dockerHost, cfg.edge.bindAddress);
if (edgeHost.loopbackOnRemote && !cfg.edge.publicUrl) {
  pulumi.log.warn(`edge.bindAddress ${cfg.edge.bindAddress} on the remote Docker host ${edgeHost.host}: the edge is reachable only on that host (behind your own proxy there); bind 0.0.0.0 or the host's address to reach ${edgeHost.host} directly, or set edge.publicUrl to where clients reach it`);
}
export const edgeUrl = clientUrl(cfg.edge, cfg.dockerHost);
export const image = api.replicas.image;
export const replicas = api.replicas.replicas;
export const apiContainers = api.replicas.containers;
/** blue-green: the previous set, running idle for a switch back (`npm run rollback` inside the window), or null. */
export const apiStandby = api.replicas.standby.apply((s) => s ?? null);
export const dbContainer = db.containerName;
export const edgeContainer = edge.containerName;
export const environment = cfg.environment;
/** The Prometheus container (monitoring.enabled), queried with `docker exec`; null without monitoring. */
export const prometheusContainer = monitoring?.containerName ?? null; // null, not undefined: no "will not show" warning
/** The Pushgateway container (monitoring.enabled) the backup verb pushes slipway_backup_* to; null without monitoring. */
export const pushgatewayContainer = monitoring?.pushgatewayName ?? null;
/** The Alertmanager container (monitoring.alerting.enabled) that notifies the webhook receiver; null without it. */
export const alertmanagerContainer = monitoring?.alertmanagerName ?? null;
