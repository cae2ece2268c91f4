// The one-host target (slipway:target docker, the default): one Docker engine (dockerHost) runs two networks,
// PostgreSQL, the HAProxy edge and the API replicas, with backup → migrate → rollout on every new image.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { Networks } from "../components/networks";
import { Database, databaseName } from "../components/database";
import { Edge } from "../components/edge";
import { DeploySteps } from "../components/deploy-steps";
import { ApiService } from "../components/api-service";
import { EDGE_METRICS_PORT, Monitoring } from "../components/monitoring";
import { Standby } from "../components/standby";
import { edgeUrl as clientUrl, publishedHost } from "../../src/docker/connect";
import { containerHasPasswordInEnv, initdbPasswordDelivery } from "../../src/postgres/initdb-password";
import { DB_HOST, DB_ROLES } from "../../src/vocabulary";
import type { StackOutputs, TargetContext } from "./context";

export function declareDocker(ctx: TargetContext): StackOutputs {
  const { cfg, prefix, production, labels, config, secretEnv, tlsPem } = ctx;
  const API_ALIAS = "api";

  // Every Docker object of the stack goes to the engine the stack names (dockerHost), or to the
  // operator's DOCKER_HOST / local engine when it names none; each after the stack lock is taken (infra/index.ts).
  const dockerOpts: pulumi.ComponentResourceOptions = {
    ...(cfg.dockerHost ? { providers: [new docker.Provider("docker-host", { host: cfg.dockerHost })] } : {}),
    dependsOn: ctx.lock,
  };

  const offHost = cfg.backup?.wal.enabled ? cfg.backup.wal.offHost : undefined;
  const networks = new Networks("net", { prefix, labels, ...(offHost ? { dbEgress: true } : {}) }, dockerOpts);
  // A database container created with its initdb password in its environment: replaced (staging) or kept, with a
  // warning, until the stack asks for the conversion (production; src/postgres/initdb-password.ts).
  const dbName = databaseName(prefix);
  const passwordDelivery = (ctx.hostEngine ? containerHasPasswordInEnv(ctx.hostEngine, dbName) : Promise.resolve(false)).then((existingInEnv) => {
    const { delivery, warning } = initdbPasswordDelivery({ existingInEnv, production, convert: cfg.database.convertPasswordEnv, container: dbName });
    if (warning) void pulumi.log.warn(warning);
    return delivery;
  });
  const standbyOn = cfg.database.standby.enabled;
  const db = new Database("db", {
    passwordDelivery,
    prefix,
    image: cfg.images.postgres,
    network: networks.backend.name,
    settings: cfg.database,
    labels,
    production,
    logs: cfg.logs,
    ...(cfg.backup?.wal.enabled ? { wal: cfg.backup.wal } : {}),
    ...(standbyOn ? { standby: true } : {}),
    ...(offHost && networks.dbEgress ? { offHost: { key: config.requireSecret("walSftpKey"), network: networks.dbEgress.name } } : {}),
  }, dockerOpts);
  // database.standby: the second member, seeded from the first. After `npm run failover` (database.standby.serving:
  // standby) it is the primary: the deploy steps, the verbs (the dbContainer output) and the API's `db` alias are on it.
  const afterDb: Promise<pulumi.Resource[]> = ctx.lock.then((lock) => [...lock, db]);
  const standby = standbyOn
    ? new Standby("db-standby", {
      prefix,
      imageId: db.imageId,
      network: networks.backend.name,
      settings: cfg.database,
      replicationPassword: db.replicationPassword!,
      ...(db.serverCommand ? { serverCommand: db.serverCommand } : {}),
      serverEnvs: db.serverEnvs,
      ...(db.walRepo ? { walRepo: db.walRepo } : {}),
      offHost: db.offHost,
      primary: db.containerName,
      primaryId: db.container.id,
      labels,
      production,
      logs: cfg.logs,
      ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
    }, { ...dockerOpts, dependsOn: afterDb })
    : undefined;
  const servingMember = standby && cfg.database.standby.serving === "standby" ? standby.container : db.container;
  const fencedOrStandby = standby ? (cfg.database.standby.serving === "standby" ? db.container : standby.container) : undefined;
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
      dbContainer: servingMember.name,
      dbContainerId: servingMember.id,
      dbUser: db.user,
      dbName: db.database,
      ownerPassword: db.ownerPassword,
      apiPassword: db.apiPassword,
      backup: cfg.backup,
      ...(monitoring ? { pushgateway: monitoring.pushgatewayName } : {}),
      ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
      // The repository root (the program runs with infra/ as its working directory).
      projectDir: path.resolve(__dirname, "..", ".."),
    },
    { dependsOn: standby ? [db, standby] : [db] },
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
        ...(standbyOn ? { PGCONNECT_WAIT_MS: String(cfg.database.standby.apiWaitSeconds * 1000) } : {}),
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
  return {
    edgeUrl: clientUrl(cfg.edge, cfg.dockerHost),
    image: api.replicas.image,
    replicas: api.replicas.replicas,
    apiContainers: api.replicas.containers,
    apiStandby: api.replicas.standby.apply((s) => s ?? null),
    dbContainer: servingMember.name,
    dbOwnerPassword: null,
    dbStandbyContainer: fencedOrStandby?.name ?? null,
    edgeContainer: edge.containerName,
    prometheusContainer: monitoring?.containerName ?? null,
    pushgatewayContainer: monitoring?.pushgatewayName ?? null,
    alertmanagerContainer: monitoring?.alertmanagerName ?? null,
  };
}
