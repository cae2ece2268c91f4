// Rules a production stack must satisfy beyond the schema. Pure: returns the violations, each
// naming the config key, so the program can refuse to start with all of them at once.
import type { StackConfig } from "./schema";
import { DEFAULT_POOL_MAX } from "../src/api/config";
import { LOCAL_PASSPHRASE } from "./secrets";

export interface Violation {
  key: string;
  message: string;
}

const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|PRIVATE|API_?KEY|CREDENTIAL)/i;

/** An image reference whose tag can move: no tag, or `latest`. Digests are immutable. */
export function isMutableImageRef(ref: string): boolean {
  if (ref.includes("@sha256:")) return false;
  const lastSegment = ref.slice(ref.lastIndexOf("/") + 1);
  const colon = lastSegment.indexOf(":");
  if (colon < 0) return true;
  return lastSegment.slice(colon + 1) === "latest";
}

export function isBindMount(source: string): boolean {
  return source.startsWith("/") || source.startsWith(".") || source.startsWith("~");
}

/** Secret-looking env keys must come from Pulumi secrets (`slipway:secretEnv`), in every stack. */
export function plaintextSecretViolations(cfg: StackConfig): Violation[] {
  return Object.keys(cfg.api.env)
    .filter((name) => SECRET_NAME.test(name))
    .map((name) => ({
      key: `slipway:api.env.${name}`,
      message: `looks like a secret but is plain config; move it to slipway:secretEnv with \`pulumi config set --secret --path 'secretEnv.${name}' ...\``,
    }));
}

/** Whether the stack file itself sets the value at `path` (as opposed to the schema's default). */
function written(input: unknown, path: readonly string[]): boolean {
  let node = input;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return node !== undefined;
}

/**
 * Rollout rules of every stack: blue-green settings only with that strategy, surge only with rolling and at most
 * the replicas, and enough edge slots for the replicas a rollout runs at once (rolling: N + surge new; blue-green:
 * the serving set, the standby and the new set).
 */
export function rolloutViolations(cfg: StackConfig, input: Readonly<Record<string, unknown>>): Violation[] {
  const out: Violation[] = [];
  const { strategy, surge, blueGreen, canary } = cfg.api.rollout;
  for (const [key, owner] of [["blueGreen", "blue-green"], ["canary", "canary"]] as const) {
    if (strategy !== owner && written(input, ["api", "rollout", key])) {
      out.push({ key: `slipway:api.rollout.${key}`, message: `applies only with api.rollout.strategy ${owner} (the strategy is ${strategy}); remove it or set the strategy` });
    }
  }
  const n = cfg.api.replicas;
  // Blue-green starts a whole set at once and canary stages its canaries: a batch size means nothing there.
  if (strategy !== "rolling" && written(input, ["api", "rollout", "surge"])) {
    out.push({ key: "slipway:api.rollout.surge", message: `applies only with api.rollout.strategy rolling (the strategy is ${strategy}); remove it or set the strategy` });
  }
  if (strategy === "rolling" && surge > n) {
    out.push({ key: "slipway:api.rollout.surge", message: `is ${surge}; at most api.replicas (${n}): a batch cannot start more new replicas than the service has` });
  }
  if (strategy === "canary" && canary.replicas > n) {
    out.push({ key: "slipway:api.rollout.canary.replicas", message: `is ${canary.replicas}; at most api.replicas (${n})` });
  }
  const sets = strategy === "blue-green" ? (blueGreen.keepOldMinutes > 0 ? 3 : 2) : 1;
  const needed = strategy === "canary" ? n + Math.min(canary.replicas, n) + 1 : strategy === "rolling" ? n + surge : sets * n + 1;
  if (cfg.edge.slots < needed) {
    const why =
      strategy === "blue-green" ? `${sets} sets of ${n} replicas${sets === 3 ? " (serving, standby, new)" : " (serving, new)"} and one spare`
      : strategy === "canary" ? `${n} replicas, ${Math.min(canary.replicas, n)} canary and one spare`
      : surge === 1 ? `${n} replicas and one new beside them` : `${n} replicas and a batch of ${surge} new beside them (api.rollout.surge)`;
    out.push({ key: "slipway:edge.slots", message: `is ${cfg.edge.slots}; ${strategy} with ${n} replicas needs at least ${needed} (${why})` });
  }
  return out;
}

/**
 * PostgreSQL's connection limit: max_connections (100, the server's default, which slipway does not change) less
 * superuser_reserved_connections (3) less what slipway's own steps open beside the replicas (migrations, the roles
 * step, a backup and its safety dump, `status`). A hot standby (database.standby) takes none of it: its WAL sender
 * counts against max_wal_senders, not max_connections (PostgreSQL ≥ 12), and its lag is read through the replicas' pools.
 */
export const DATABASE_CONNECTION_BUDGET = 100 - 3 - 5;

/**
 * Every replica's pool at its fullest (PGPOOL_MAX each, src/api/config.ts) while a release runs the most replicas at
 * once: rolling N + surge, canary N + its canaries, blue-green the serving set and the new one (a standby set takes no
 * traffic: its pools idle down to the health check's one connection; on swarm, the old revision's service and the new one). Beyond PostgreSQL's limit the last replicas'
 * requests fail with "too many clients" exactly when a release is under way — measured: 12 replicas, surge 1, pools
 * of 10, two failed POSTs.
 */
export function connectionViolations(cfg: StackConfig): Violation[] {
  const raw = cfg.api.env.PGPOOL_MAX;
  const pool = raw === undefined ? DEFAULT_POOL_MAX : Number(raw);
  if (!Number.isInteger(pool) || pool < 1) return []; // the API itself refuses it at start, naming the variable
  const n = cfg.api.replicas;
  const { strategy, surge, canary, blueGreen } = cfg.api.rollout;
  // On swarm a release runs the new revision's whole service beside the old one (infra/targets/swarm.ts).
  const serving = cfg.target === "swarm" ? 2 * n : strategy === "rolling" ? n + surge : strategy === "canary" ? n + Math.min(canary.replicas, n) : 2 * n;
  const standby = strategy === "blue-green" && blueGreen.keepOldMinutes > 0 ? n : 0;
  const peak = serving * pool + standby;
  if (peak <= DATABASE_CONNECTION_BUDGET) return [];
  const fit = Math.max(1, Math.floor((DATABASE_CONNECTION_BUDGET - standby) / serving));
  return [{
    key: "slipway:api.replicas",
    message: `is ${n}: during a ${strategy} release ${serving} replicas${standby ? ` (and a standby set of ${n})` : ""} with pools of ${pool} (PGPOOL_MAX) may open ${peak} database connections, more than the ${DATABASE_CONNECTION_BUDGET} PostgreSQL allows the API; set slipway:api.env.PGPOOL_MAX to ${fit} or less, or run fewer replicas`,
  }];
}

/** What the program finds outside the config that production rules judge (the stack file, the Docker transport). */
export interface ProductionFacts {
  /** the local default passphrase (stacks/secrets.ts) opens the stack's `encryptionsalt` (Pulumi.<stack>.yaml) */
  localPassphrase: boolean;
  /** the Docker engine is reached over plain, unencrypted TCP: which setting named it, and its value */
  plainTcp?: { from: "slipway:dockerHost" | "DOCKER_HOST"; host: string };
  /** the program runs on a throwaway CI machine (GitHub's RUNNER_ENVIRONMENT=github-hosted) */
  hostedRunner?: boolean;
}

/**
 * Production secrets (database password, secretEnv, TLS key) never under the passphrase everyone knows, and
 * never across the network in clear: plain tcp:// to the Docker engine carries every container's environment
 * (PGPASSWORD, secretEnv) and the edge's PEM upload unencrypted. ssh://, TLS (https:// or tcp:// with
 * DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) and unix:// are fine.
 */
export function productionFactViolations(cfg: StackConfig, stack: string, facts: ProductionFacts): Violation[] {
  if (cfg.environment !== "production") return [];
  const out: Violation[] = [];
  if (facts.plainTcp) {
    out.push({
      key: facts.plainTcp.from,
      message:
        `"${facts.plainTcp.host}" is plain TCP: the database password, secretEnv and the TLS key would cross the network in clear; ` +
        `production reaches Docker over ssh://user@host, TLS (https://host:2376, or tcp:// with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH) or a unix:// socket`,
    });
  }
  // The pre-deploy backup is written to backup.dir on the machine running pulumi: on a hosted runner that disk
  // is thrown away with the VM, so without an off-host copy production would migrate with no backup to go back to.
  if (facts.hostedRunner && cfg.backup?.enabled && !cfg.backup.copyTo) {
    out.push({
      key: "slipway:backup.copyTo",
      message:
        `is required when production deploys from a hosted CI runner: backup.dir ${cfg.backup.dir} is on the runner and is thrown away with it, ` +
        `so the pre-deploy backup would be lost; set an rclone remote (e.g. sftp:backups/slipway) or deploy from a self-hosted runner whose disk stays`,
    });
  }
  if (!facts.localPassphrase) return out;
  out.push({
    key: `encryptionsalt (Pulumi.${stack}.yaml)`,
    message:
      `the stack's secrets are sealed with the local default passphrase "${LOCAL_PASSPHRASE}" (tools/env.sh), which anyone with this repository knows; ` +
      `re-seal them with your own: \`pulumi stack change-secrets-provider --stack ${stack} passphrase\` (it asks for the new passphrase), ` +
      `or a KMS (\`... change-secrets-provider --stack ${stack} "awskms://…"\`), then run with PULUMI_CONFIG_PASSPHRASE(_FILE) set to yours`,
  });
  return out;
}

/**
 * What a stack may not ask of its target, named, never silently ignored. `target: docker` takes no `swarm` key.
 * `target: swarm` (infra/targets/swarm.ts) does not yet support what needs a container on one known engine or a
 * host port bound to an address: edge.bindAddress (the edge publishes in host mode on every edge node's
 * addresses), volumes, the WAL archive and monitoring. Dumps run there (the backup verb and the
 * pre-deploy backup reach the database from the manager: src/swarm/db-client.ts).
 */
export function targetViolations(cfg: StackConfig, input: Readonly<Record<string, unknown>>): Violation[] {
  if (cfg.target === "docker") {
    return written(input, ["swarm"]) ? [{ key: "slipway:swarm", message: "applies only with slipway:target swarm (the target is docker); remove it or set the target" }] : [];
  }
  const out: Violation[] = [];
  const unsupported = (key: string, why: string) => out.push({ key: `slipway:${key}`, message: `is not supported on target swarm yet: ${why}; remove it (README "Target swarm" lists what swarm supports)` });
  if (written(input, ["edge", "bindAddress"])) unsupported("edge.bindAddress", "the edge publishes its port in host mode on every node labelled slipway.edge=true, on all of its addresses");
  if (written(input, ["api", "rollout", "surge"])) unsupported("api.rollout.surge", "a swarm release starts the new revision's whole service at once, beside the old one");
  if (cfg.api.volumes.length > 0) unsupported("api.volumes", "a task may run on any node, where a named volume would be another, empty one");
  if (written(input, ["api", "restartPolicy"])) unsupported("api.restartPolicy", "Swarm restarts tasks itself (restart condition any)");
  if (cfg.backup?.wal.enabled) unsupported("backup.wal.enabled", "the WAL archive is pgBackRest in the database's container with its repository on that host; on swarm, dumps (backup.enabled) run");
  if (cfg.monitoring.enabled) unsupported("monitoring.enabled", "Prometheus scrapes replicas by container name on one engine");
  if (cfg.database.standby.enabled) unsupported("database.standby.enabled", "the standby is a second container on the one engine; on a swarm it would be a service on another node, which slipway does not declare yet");
  return out;
}

/**
 * database.standby settings that mean nothing without a standby: synchronous commits need one to wait for, and only
 * `npm run failover` (which promotes one) makes the standby the serving member.
 */
export function standbyViolations(cfg: StackConfig): Violation[] {
  const s = cfg.database.standby;
  if (s.enabled) return [];
  const out: Violation[] = [];
  if (s.synchronous) out.push({ key: "slipway:database.standby.synchronous", message: "needs database.standby.enabled: true (commits would wait for a standby that does not exist)" });
  if (s.serving !== "db") out.push({ key: "slipway:database.standby.serving", message: `is ${s.serving}, but database.standby.enabled is false: the standby container would be removed while it is the primary; set enabled back to true (RUNBOOK "The database host is gone")` });
  return out;
}

/**
 * @param cfg    the parsed config (defaults applied)
 * @param input  what the stack wrote (the loader's raw input), for rules about values that must be written
 *               explicitly even though the schema has a default — `api.limits`
 */
export function productionViolations(cfg: StackConfig, input: Readonly<Record<string, unknown>>): Violation[] {
  const out: Violation[] = [];
  cfg.edge.cors.allowedOrigins.forEach((origin, i) => {
    if (origin === "*") out.push({ key: `slipway:edge.cors.allowedOrigins[${i}]`, message: 'is "*"; production allows named origins only (e.g. https://app.example.com)' });
  });
  for (const [name, ref] of Object.entries(cfg.images)) {
    if (isMutableImageRef(ref)) {
      out.push({
        key: `slipway:images.${name}`,
        message: `"${ref}" is a mutable reference; production needs an immutable tag (e.g. the git SHA) or a digest`,
      });
    }
  }
  if (cfg.api.replicas < 2) {
    out.push({ key: "slipway:api.replicas", message: `is ${cfg.api.replicas}; production needs at least 2 so a rollout never leaves zero replicas` });
  }
  // api.limits has a default for smaller stacks; production must size every container on purpose.
  for (const section of ["api", "edge", "database"] as const) {
    if (!written(input, [section, "limits"])) {
      out.push({ key: `slipway:${section}.limits`, message: "is required in production (memoryMb and cpus)" });
    }
  }
  cfg.api.volumes.forEach((v, i) => {
    if (isBindMount(v.source)) {
      out.push({ key: `slipway:api.volumes[${i}].source`, message: `"${v.source}" is a bind mount; production allows named volumes only` });
    }
  });
  if (!cfg.backup?.enabled) {
    out.push({ key: "slipway:backup.enabled", message: "must be true in production: every deploy takes a backup before migrating" });
  }
  return out;
}
