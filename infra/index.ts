// The slipway program: config is read and validated once, here, then the stack's target declares it —
// infra/targets/docker.ts (one Docker engine: two networks, PostgreSQL, the HAProxy edge and the API replicas, with
// backup → migrate → rollout on every new image) or infra/targets/swarm.ts (the same on a Docker Swarm).
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, namespaceConfig, StackConfigError } from "../stacks/load";
import { LOCAL_PASSPHRASE, saltOpensWith } from "../stacks/secrets";
import { alertRules } from "./components/monitoring";
import { dockerConnection, processConnectEnv } from "../src/docker/connect";
import type { ProductionFacts } from "../stacks/policy";
import { LABEL_PROJECT, LABEL_STACK } from "../src/vocabulary";
import { connectDocker } from "../src/docker";
import { engineAncestor, lockName, releaseLockSync, takeStackLock } from "../src/docker/stack-lock";
import { LOCK_DEFAULTS, type StackConfig } from "../stacks/schema";
import { declareDocker } from "./targets/docker";
import { declareSwarm } from "./targets/swarm";

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
for (const [key, how] of [["secretEnv", "--path 'secretEnv.NAME' ..."], ["tlsCertificate", "tlsCertificate < fullchain.pem"], ["tlsKey", "tlsKey < key.pem"], ["alertWebhookToken", "alertWebhookToken < token.txt"], ["walSftpKey", "walSftpKey < id_ed25519"]]) {
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
if (cfg.backup?.wal.enabled && cfg.backup.wal.offHost && config.get("walSftpKey") === undefined) {
  throw new pulumi.RunError(`stack "${stack}": slipway:backup.wal.offHost needs slipway:walSftpKey, the private key its user logs in with (from stdin, never on the command line: pulumi config set --secret walSftpKey < id_ed25519)`);
}
// One PEM bundle (chain, then key), secret end to end: config → EdgeProxy state → a file in the HAProxy container.
const tlsPem = cfg.edge.tls.enabled
  ? pulumi.all([config.requireSecret("tlsCertificate"), config.requireSecret("tlsKey")]).apply(([cert, key]) => `${cert.trim()}\n${key.trim()}\n`)
  : undefined;


const prefix = `${project}-${stack}`;
/** The stack's Docker engine, for the little the program itself asks it; none under the unit tests' mocks (no engine). */
const hostEngine = (() => {
  const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as typeof import("@pulumi/pulumi/runtime/mocks");
  return pulumi.runtime.getMonitor() instanceof MockMonitor ? undefined : connectDocker(cfg.dockerHost);
})();
/**
 * An update holds the stack's lock on its Docker host (src/docker/stack-lock.ts) from before anything of the stack is
 * touched until the program ends, so the backup, restore and maintenance verbs wait for it (and it for them). Every
 * Docker object of the stack depends on taking it (dockerOpts); the deploy steps and the replicas depend on those.
 * A preview takes nothing. Released when the program's work is done; if the program dies, its lock is stale at once
 * on this host (its pid is gone) and it is removed synchronously on exit when it can be.
 */
function stackLock(): Promise<pulumi.Resource[]> {
  if (pulumi.runtime.isDryRun() || !hostEngine) return Promise.resolve([]);
  const host = cfg.dockerHost;
  const waitMs = LOCK_DEFAULTS.waitSeconds * 1000;
  return takeStackLock(hostEngine, { prefix, holder: "deploy", waitMs, engine: engineAncestor(), log: (line) => pulumi.log.info(line) }).then(
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
const ctx = {
  cfg,
  prefix,
  production: cfg.environment === "production",
  labels: { [LABEL_PROJECT]: project, [LABEL_STACK]: prefix },
  config,
  secretEnv: secretEnv as pulumi.Output<Record<string, string>>,
  ...(tlsPem ? { tlsPem } : {}),
  // On the engine dockerHost names (a swarm's manager): a deploy and a verb (backup, restore, maintenance) never overlap.
  lock: stackLock(),
  ...(hostEngine ? { hostEngine } : {}),
};
const outputs = cfg.target === "swarm" ? declareSwarm(ctx) : declareDocker(ctx);

export const edgeUrl = outputs.edgeUrl;
export const image = outputs.image;
export const replicas = outputs.replicas;
export const apiContainers = outputs.apiContainers;
/** blue-green: the previous set, running idle for a switch back (`npm run rollback` inside the window), or null. */
export const apiStandby = outputs.apiStandby;
export const dbContainer = outputs.dbContainer;
export const dbStandbyContainer = outputs.dbStandbyContainer; // null without a standby
/** swarm: the owner role's password (a secret) the backup verb logs in with from the manager; null on docker. */
export const dbOwnerPassword = outputs.dbOwnerPassword;
export const edgeContainer = outputs.edgeContainer;
export const environment = cfg.environment;
/** The Prometheus container (monitoring.enabled), queried with `docker exec`; null without monitoring. */
export const prometheusContainer = outputs.prometheusContainer; // null, not undefined: no "will not show" warning
/** The Pushgateway container (monitoring.enabled) the backup verb pushes slipway_backup_* to; null without monitoring. */
export const pushgatewayContainer = outputs.pushgatewayContainer;
/** The Alertmanager container (monitoring.alerting.enabled) that notifies the webhook receiver; null without it. */
export const alertmanagerContainer = outputs.alertmanagerContainer;
