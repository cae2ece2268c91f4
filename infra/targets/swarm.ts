// The Swarm target (slipway:target swarm): the stack on a Docker Swarm, every object through the manager dockerHost
// names. Three overlay networks (edge: edge ↔ API; backend: API, migrations ↔ database; control: the edge's runtime
// API and the relay only), PostgreSQL as a service pinned to the node labelled slipway.database=true, the roles and
// the migrations as one-off tasks, HAProxy as a global service on the nodes labelled slipway.edge=true publishing in
// host mode, and the API as one service per revision released behind every edge task (SwarmRelease). README
// "Target swarm" says why it is built this way and what it does not support yet.
import { createHash, createHmac } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as random from "@pulumi/random";
import { PGDATA } from "../../src/backup/wal";
import { edgeUrl as clientUrl } from "../../src/docker/connect";
import { HTTP_PORT, HTTPS_PORT, type HaproxyConfigOptions, renderHaproxyConfig } from "../../src/edge/haproxy-config";
import { CONFIG_FROM_ENV, EDGE_MAINTENANCE_MAP, configServerCommand, configServerName, EDGE_CONFIG_PORT, EDGE_TLS_PEM, edgeTaskScript, SERVED_CONFIG_PATH, SERVED_TLS_SECRET, servedConfig } from "../../src/swarm/edge-config";
import { apiServiceName, COLOURS, overlayName, RUNTIME_API_PORT, slotPrefix, swarmEdgeTarget } from "../../src/swarm/spec";
import { ROLE_SECRET, rolesTaskScript, SOCKET_DIR } from "../../src/swarm/database";
import { INITDB_PASSWORD_FILE, INITDB_PASSWORD_SECRET } from "../../src/postgres/initdb-password";
import { apiProbe, DB_HOST, DB_ROLES, EDGE_BACKEND, ROLES } from "../../src/vocabulary";
import { dockerLabels } from "../components/limits";
import { preDeployBackup } from "../components/deploy-steps";
import { databaseName } from "../components/database";
import { SwarmEdgeReady, SwarmFile, SwarmRelease, SwarmTask } from "../providers/swarm";
import type { StackOutputs, TargetContext } from "./context";

/** Node labels that place the database and the edge (tools/swarm-lab.sh sets them on the lab's nodes). */
export const DATABASE_CONSTRAINT = "node.labels.slipway.database==true";
export const EDGE_CONSTRAINT = "node.labels.slipway.edge==true";

const base64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
/** A duration as the docker provider reads it back (Go's form: 65000 → "1m5s"), so a preview stays empty. */
export function goDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000), m = Math.floor((ms % 3_600_000) / 60_000), sec = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${sec}s`;
}
// Read back when never set (the provider would plan them as unknown on every preview): not set by slipway.
const UNSET_BY_SLIPWAY = ["taskSpec.containerSpec.sysctl"];

export function declareSwarm(ctx: TargetContext): StackOutputs {
  const { cfg, prefix, production, labels, secretEnv, tlsPem } = ctx;
  // Every object through the manager dockerHost names, after the stack lock is taken there (infra/index.ts): a backup
  // or another deploy through the same manager waits.
  const opts: pulumi.CustomResourceOptions = { ...(cfg.dockerHost ? { provider: new docker.Provider("docker-host", { host: cfg.dockerHost }) } : {}), dependsOn: ctx.lock };
  const logDriver = { name: "json-file", options: { "max-size": `${cfg.logs.maxSizeMb}m`, "max-file": String(cfg.logs.maxFiles) } };
  const limits = (l: { memoryMb: number; cpus: number } | undefined) =>
    l ? { limits: { memoryBytes: l.memoryMb * 1024 * 1024, nanoCpus: Math.round(l.cpus * 1e9) } } : undefined;

  // Attachable (the relay and one-off containers join them), encrypted unless swarm.encrypted is off.
  const overlay = (name: "edge" | "backend" | "control") =>
    new docker.Network(`${name}-network`, {
      name: overlayName(prefix, name),
      driver: "overlay",
      attachable: true,
      ...(cfg.swarm.encrypted ? { options: { encrypted: "" } } : {}),
      labels: dockerLabels(labels),
    }, opts);
  const edgeTarget = swarmEdgeTarget(prefix, cfg.images.edge);
  const edgeNet = overlay("edge");
  const backendNet = overlay("backend");
  const controlNet = overlay("control");

  // The database: passwords generated once and kept as Pulumi secrets; the superuser's reaches the server as a Swarm
  // secret file (POSTGRES_PASSWORD_FILE) and only serves initdb (the roles task clears it).
  const dbPassword = new random.RandomPassword("db-password", { length: 32, special: false });
  const ownerPassword = pulumi.secret(new random.RandomPassword("db-owner-password", { length: 32, special: false }).result);
  const apiPassword = pulumi.secret(new random.RandomPassword("db-api-password", { length: 32, special: false }).result);
  const dbSecret = new docker.Secret("db-password-secret", {
    name: `${prefix}-db-password`,
    data: pulumi.secret(dbPassword.result.apply(base64)),
    labels: dockerLabels(labels),
  }, { ...opts, additionalSecretOutputs: ["data"] });
  const db = new docker.Service("db", {
    name: databaseName(prefix),
    labels: dockerLabels(labels),
    taskSpec: {
      containerSpec: {
        image: cfg.images.postgres,
        env: { POSTGRES_USER: cfg.database.user, POSTGRES_DB: cfg.database.name, POSTGRES_PASSWORD_FILE: INITDB_PASSWORD_FILE },
        secrets: [{ secretId: dbSecret.id, secretName: dbSecret.name, fileName: INITDB_PASSWORD_SECRET }],
        // Named volumes on the database node: the data, and the socket directory the roles task shares.
        mounts: [
          { type: "volume", source: `${prefix}-pgdata`, target: PGDATA },
          { type: "volume", source: `${prefix}-pgsocket`, target: SOCKET_DIR },
        ],
        healthcheck: { tests: ["CMD-SHELL", `pg_isready -U ${cfg.database.user} -d ${cfg.database.name}`], interval: "2s", timeout: "5s", retries: 30, startPeriod: "5s" },
        stopGracePeriod: "30s",
      },
      placement: { constraints: [DATABASE_CONSTRAINT] },
      networksAdvanceds: [{ id: backendNet.id, aliases: [DB_HOST] }],
      ...(cfg.database.limits ? { resources: limits(cfg.database.limits) } : {}),
      restartPolicy: { condition: "any", delay: "5s", maxAttempts: 0, window: "0s" },
      logDriver,
    },
    mode: { replicated: { replicas: 1 } },
    endpointSpec: { mode: "dnsrr" },
    // One data volume: never two servers on it.
    updateConfig: { order: "stop-first", parallelism: 1 },
    convergeConfig: { delay: "2s", timeout: "10m" },
  }, { ...opts, protect: production, dependsOn: [dbSecret], ignoreChanges: UNSET_BY_SLIPWAY });

  const secretsKey = pulumi.secret(new random.RandomPassword("api-secrets-key", { length: 48, special: false }).result);
  const triggers = db.id.apply((id) => [cfg.images.api, id]);
  const roles = new SwarmTask("db-roles", {
    stack: prefix,
    name: "roles",
    image: cfg.images.postgres,
    command: ["sh", "-c", rolesTaskScript({ user: cfg.database.user, database: cfg.database.name })],
    env: {},
    secrets: pulumi.all([ownerPassword, apiPassword]).apply(([owner, api]) => ({ [ROLE_SECRET.owner]: owner, [ROLE_SECRET.api]: api })),
    secretsKey,
    constraints: [DATABASE_CONSTRAINT],
    networks: [],
    mounts: [{ source: `${prefix}-pgsocket`, target: SOCKET_DIR }],
    timeoutMs: cfg.swarm.taskTimeoutMs,
    labels,
    triggers,
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
  }, { dependsOn: [db] });
  // The pre-deploy backup (backup.enabled): the verb, reaching the database from the manager as the owner role.
  const backup = cfg.backup?.enabled
    ? preDeployBackup("deploy-backup", {
      prefix,
      dbContainer: db.name,
      image: cfg.images.api,
      backup: cfg.backup,
      dbName: cfg.database.name,
      ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
      projectDir: path.resolve(__dirname, "..", ".."),
      swarm: { network: backendNet.name, ownerPassword },
    }, { dependsOn: [roles] })
    : undefined;
  // The new image's migrations, as the owner role, on the backend network; a failure fails `pulumi up` with its log.
  const migrate = new SwarmTask("migrate", {
    stack: prefix,
    name: "migrate",
    image: cfg.images.api,
    command: ["node", "dist/api/migrate.js"],
    env: { PGHOST: DB_HOST, PGUSER: DB_ROLES.owner, PGDATABASE: cfg.database.name },
    secrets: ownerPassword.apply((pw) => ({ PGPASSWORD: pw })),
    secretsKey,
    constraints: [],
    networks: backendNet.name.apply((n) => [n]),
    mounts: [],
    timeoutMs: cfg.swarm.taskTimeoutMs,
    labels,
    triggers,
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
  }, { dependsOn: backup ? [roles, backup] : [roles] });

  // The edge: one config for every release (a server-template per colour over tasks.<service>), the runtime API
  // on the control overlay's addresses only, identified by a hash of its content and of the certificate it serves
  // (`description`: what a deploy waits for every edge task to have loaded; a renewal is a new config too).
  const tls = cfg.edge.tls.enabled && tlsPem ? tlsPem : undefined;
  const pemDigest = tls ? pulumi.unsecret(tls.apply((pem) => createHash("sha256").update(pem).digest("hex"))) : pulumi.output("");
  const haproxyConfig = pulumi.all([controlNet.ipamConfigs, pemDigest]).apply(([ipam, digest]) => {
    const subnet = ipam.find((c) => c.subnet && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c.subnet))?.subnet;
    if (!subnet) throw new Error(`network ${prefix}-control: no IPv4 subnet reported; the edge's runtime API cannot be limited to it`);
    const s = cfg.edge;
    const options: HaproxyConfigOptions = {
      backend: EDGE_BACKEND,
      serviceHost: apiServiceName(prefix, "a"),
      servicePort: cfg.api.port,
      listenPort: HTTP_PORT,
      slots: s.slots,
      healthPath: cfg.api.healthcheck.path,
      retries: s.retries,
      timeouts: s.timeouts,
      securityHeaders: s.securityHeaders,
      corsOrigins: s.cors.allowedOrigins,
      rateLimitPer10s: s.rateLimit.requestsPer10s,
      truncateClientAddress: production,
      serverTemplates: COLOURS.map((c) => ({ prefix: slotPrefix(c), host: `tasks.${apiServiceName(prefix, c)}` })),
      runtimeApi: { port: RUNTIME_API_PORT, allowFrom: subnet },
      maintenanceMap: EDGE_MAINTENANCE_MAP,
      ...(tls ? { tls: { publicPort: s.tls.port, hsts: production, pemPath: EDGE_TLS_PEM } } : {}),
    };
    const hash = createHash("sha256").update(renderHaproxyConfig(options)).update(digest).digest("hex").slice(0, 12);
    return { hash, text: servedConfig(renderHaproxyConfig({ ...options, description: hash })) };
  });
  // Served to the edge's tasks by the config server (src/swarm/edge-config.ts: why the edge's own spec names none).
  // Not docker.ServiceConfig or docker.Secret: the one a change replaces is still named by the server's previous spec,
  // which Swarm refuses to remove it for (src/swarm/configs.ts).
  const edgeConfig = new SwarmFile("edge-config", {
    stack: prefix,
    role: ROLES.edgeConfig,
    kind: "config",
    name: haproxyConfig.apply((c) => `${prefix}-haproxy-${c.hash}`),
    content: haproxyConfig.apply((c) => c.text),
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
  });
  // The certificate chain and key: a Swarm secret named by an HMAC of the PEM under the stack's key.
  const tlsSecret = tls
    ? new SwarmFile("edge-tls", {
        stack: prefix,
        role: ROLES.edgeTls,
        kind: "secret",
        name: pulumi.unsecret(pulumi.all([tls, secretsKey]).apply(([pem, key]) => `${prefix}-tls-${createHmac("sha256", key).update(pem).digest("hex").slice(0, 12)}`)),
        content: tls,
        ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
      })
    : undefined;
  const configServer = new docker.Service("edge-config-server", {
    name: configServerName(prefix),
    labels: dockerLabels(labels),
    taskSpec: {
      containerSpec: {
        image: cfg.images.edge,
        commands: configServerCommand(!!tlsSecret),
        configs: [{ configId: edgeConfig.fileId, configName: edgeConfig.name, fileName: SERVED_CONFIG_PATH }],
        // Readable by the server's one process (the image's user; its uid is the image's business): 0444 inside a
        // container that runs nothing else and publishes nothing.
        ...(tlsSecret ? { secrets: [{ secretId: tlsSecret.fileId, secretName: tlsSecret.name, fileName: SERVED_TLS_SECRET, fileMode: 0o444 }] } : {}),
      },
      placement: { constraints: [EDGE_CONSTRAINT] },
      // The control overlay only: the edge's tasks and the relay; no API task, nothing published.
      networksAdvanceds: [{ id: controlNet.id }],
      resources: limits({ memoryMb: 32, cpus: 0.1 }),
      restartPolicy: { condition: "any", delay: "2s", maxAttempts: 0, window: "0s" },
      logDriver,
    },
    mode: { global: true },
    endpointSpec: { mode: "dnsrr" },
    // No port held: the new task starts before the old one stops.
    updateConfig: { order: "start-first", parallelism: 1 },
  }, { ...opts, ignoreChanges: UNSET_BY_SLIPWAY });
  const edge = new docker.Service("edge", {
    name: edgeTarget.service,
    labels: dockerLabels(labels),
    taskSpec: {
      containerSpec: {
        image: cfg.images.edge,
        // Fetches haproxy.cfg from the config server and reloads HAProxy in place when it changes.
        commands: ["sh", "-c", edgeTaskScript()],
        env: { [CONFIG_FROM_ENV]: `${configServerName(prefix)}:${EDGE_CONFIG_PORT}` },
        // SIGUSR1: HAProxy's soft stop (finishes what it has, then exits).
        stopSignal: "SIGUSR1",
        stopGracePeriod: goDuration(Math.ceil((cfg.edge.timeouts.serverMs + 5000) / 1000) * 1000),
      },
      placement: { constraints: [EDGE_CONSTRAINT] },
      networksAdvanceds: [{ id: edgeNet.id }, { id: controlNet.id }],
      ...(cfg.edge.limits ? { resources: limits(cfg.edge.limits) } : {}),
      restartPolicy: { condition: "any", delay: "2s", maxAttempts: 0, window: "0s" },
      logDriver,
    },
    mode: { global: true },
    // Host mode: the node's own port, the client's address kept (no routing mesh, which needs IPVS).
    endpointSpec: {
      mode: "dnsrr",
      ports: [
        { targetPort: HTTP_PORT, publishedPort: cfg.edge.port, publishMode: "host", protocol: "tcp" },
        ...(tls ? [{ targetPort: HTTPS_PORT, publishedPort: cfg.edge.tls.port, publishMode: "host", protocol: "tcp" }] : []),
      ],
    },
    // A task holds its node's port: the old one must go before the new one binds it (an edge image change).
    updateConfig: { order: "stop-first", parallelism: 1, delay: "5s" },
  }, { ...opts, ignoreChanges: UNSET_BY_SLIPWAY });
  // An up that changes the edge returns (and releases) only once every edge task runs its spec with the config loaded.
  const edgeReady = new SwarmEdgeReady("edge-ready", {
    stack: prefix,
    edge: edgeTarget,
    configHash: haproxyConfig.apply((c) => c.hash),
    image: cfg.images.edge,
    timeoutMs: cfg.swarm.taskTimeoutMs,
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
  }, { dependsOn: [edge, configServer] });

  const api = cfg.api;
  const release = new SwarmRelease("api", {
    stack: prefix,
    image: cfg.images.api,
    replicas: api.replicas,
    env: { ...api.env, PORT: String(api.port), PGHOST: DB_HOST, PGUSER: DB_ROLES.api, PGDATABASE: cfg.database.name },
    secrets: pulumi.all([apiPassword, secretEnv]).apply(([password, extra]): Record<string, string> => ({ ...extra, PGPASSWORD: password })),
    secretsKey,
    networks: pulumi.all([edgeNet.name, backendNet.name]),
    labels,
    memoryMb: api.limits.memoryMb,
    cpus: api.limits.cpus,
    healthcheck: {
      test: apiProbe(api.healthcheck.path, api.healthcheck.timeoutMs),
      intervalMs: api.healthcheck.intervalMs,
      timeoutMs: api.healthcheck.timeoutMs,
      retries: api.healthcheck.retries,
      startPeriodMs: api.healthcheck.startPeriodMs,
    },
    placement: cfg.swarm.apiPlacement,
    stopGraceSeconds: api.rollout.stopGraceSeconds,
    logs: cfg.logs,
    // The names `status` rebuilds from the prefix too; known once the edge and its network are.
    edge: pulumi.all([edge.name, controlNet.name]).apply(() => edgeTarget),
    timeouts: { healthTimeoutMs: api.rollout.healthTimeoutMs, edgeUpTimeoutMs: api.rollout.edgeUpTimeoutMs, drainTimeoutMs: api.rollout.drainTimeoutMs },
    // blue-green: staged idle, switched at every edge task at once, the old service kept idle as the standby.
    ...(api.rollout.strategy === "blue-green" ? { blueGreen: { keepOldMinutes: api.rollout.blueGreen.keepOldMinutes } } : {}),
    // canary: the new service's first tasks take each share in turn, judged on the edge's access log, then all of it.
    ...(api.rollout.strategy === "canary" ? { canary: api.rollout.canary } : {}),
    ...(cfg.dockerHost ? { dockerHost: cfg.dockerHost } : {}),
  }, { dependsOn: [migrate, edgeReady] });

  return {
    // Clients reach any edge node on edge.port: edge.publicUrl names where (a load balancer or DNS name in front).
    edgeUrl: clientUrl({ ...cfg.edge, bindAddress: "0.0.0.0" }, cfg.dockerHost),
    image: release.image,
    replicas: release.replicas,
    apiContainers: release.service.apply((s) => [s]),
    // As on one host: the standby's revision, its service (the "containers" a switch back routes to), until when.
    apiStandby: release.standby.apply((sb) => (sb ? { revision: sb.revision, containers: [sb.service], until: sb.until } : null)),
    dbContainer: db.name,
    dbOwnerPassword: ownerPassword,
    dbStandbyContainer: null,
    edgeContainer: edge.name,
    prometheusContainer: null,
    pushgatewayContainer: null,
    alertmanagerContainer: null,
  };
}
