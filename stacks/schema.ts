// The shape of a stack's configuration (Pulumi.<stack>.yaml, namespace `slipway`), parsed once at
// program start. Everything downstream receives these plain typed values and never re-validates.
//
// Every object is strict: a key the schema does not know is an error (stacks/load.ts names it, with the
// closest valid key), at every level. Only `api.env` is free-form (any variable names).
//
// This file is the one place a setting's default lives: downstream code (infra/, src/) takes the value
// from the parsed config and keeps no copy of its own.
import { z } from "zod";

const imageRef = z.string().min(1, "must name an image, e.g. registry.example.com/app:3f2c1a9");
const port = z.number().int().min(1).max(65535);
const identifier = z.string().regex(/^[a-z_][a-z0-9_]*$/, "must be a plain lower-case identifier");

export const limitsSchema = z.strictObject({
  memoryMb: z.number().int().min(16, "must be at least 16 (MiB)"),
  /** Whole or fractional CPUs (1, 0.5, 1.5): kept as written; the Docker side turns them into a CFS quota. */
  cpus: z.number().positive().max(64),
});

/**
 * api.limits when a stack writes none. Only non-production stacks can rely on it: production must write
 * `api.limits` (and `edge.limits`, `database.limits`) explicitly — stacks/policy.ts checks the written
 * input, not this default. Edge and database have no default: without limits they run unlimited.
 */
const DEFAULT_API_LIMITS = { memoryMb: 512, cpus: 1 } as const;

export const restartPolicySchema = z.enum(["no", "always", "unless-stopped", "on-failure"]);

const volumeSchema = z.strictObject({
  source: z.string().min(1, "names a Docker volume, or a host path for a bind mount"),
  target: z.string().startsWith("/", "must be an absolute path inside the container"),
  readOnly: z.boolean().default(false),
});

export const healthcheckSchema = z.strictObject({
  /** Readiness path Docker's health check and the edge both probe (the API's /up; /health is the operators' report). */
  path: z.string().regex(/^\/[\w./-]*$/, "must be a plain absolute path such as /up").default("/up"),
  intervalMs: z.number().int().min(100).default(1000),
  // Generous: each probe starts a node process, which takes seconds on a loaded 2-core host. A success still
  // counts at once, so a healthy replica is not slower to be ready; failures in the start period do not count.
  timeoutMs: z.number().int().min(1000).default(5000),
  retries: z.number().int().min(1).default(3),
  startPeriodMs: z.number().int().min(0).default(10_000),
});

const rolloutSchema = z.strictObject({
  /** A new replica must be healthy in Docker by then. */
  healthTimeoutMs: z.number().int().min(1000).default(60_000),
  /** …and, once healthy in Docker, UP at the edge by then. */
  edgeUpTimeoutMs: z.number().int().min(1000).default(20_000),
  /** How long an old replica's in-flight requests may take to finish after it is drained at the edge. */
  drainTimeoutMs: z.number().int().min(0).default(30_000),
  /** SIGTERM → SIGKILL grace when an old replica is stopped. */
  stopGraceSeconds: z.number().int().min(0).default(10),
  /**
   * rolling: replace one replica at a time (new first). blue-green: start a full second set idle, switch all
   * traffic to it at once, keep the previous set idle for a switch back (README "Release strategies").
   */
  strategy: z.enum(["rolling", "blue-green", "canary"]).default("rolling"),
  /**
   * rolling: how many new replicas a release starts at once (a batch: start them, wait until all are healthy and UP
   * at the edge, then drain and remove as many old ones). At most api.replicas; only with strategy rolling
   * (stacks/policy.ts refuses it otherwise). How the rollout moves, not what runs: a change alone rolls nothing.
   */
  surge: z.number().int().min(1).default(1),
  /** Only with strategy blue-green (stacks/policy.ts refuses it otherwise). */
  blueGreen: z
    .strictObject({
      /** How long the previous set stays running, idle, so that going back to it is a switch; 0: removed at once. */
      keepOldMinutes: z.number().int().min(0).max(7 * 24 * 60).default(15),
    })
    .prefault({}),
  /** Only with strategy canary (stacks/policy.ts refuses it otherwise). */
  canary: z
    .strictObject({
      /** New replicas that take the canary shares (then become ordinary replicas). */
      replicas: z.number().int().min(1).default(1),
      /** Shares of requests in percent, held in turn; each must pass the gate. */
      steps: z
        .array(z.number().int().min(1).max(99))
        .min(1)
        .refine((a) => a.every((x, i) => i === 0 || x > a[i - 1]!), "must increase, e.g. [5, 25, 50]")
        .default(() => [10, 50]),
      /** How long each share is held before the edge's access log is judged. */
      stepSeconds: z.number().int().min(5).max(3600).default(60),
      /** The canary's 5xx rate may exceed the stable set's by at most this many percentage points. */
      maxErrorRateIncrease: z.number().min(0).max(100).default(1),
      /** The canary's p99 may be at most this multiple of the stable set's. */
      maxP99Ratio: z.number().min(1).default(2),
      /** Below this many canary requests in a step, latency is not judged (5xx still is). */
      minRequests: z.number().int().min(1).default(20),
    })
    .prefault({}),
});

/** HAProxy `timeout …` settings of the edge, in milliseconds. */
export const edgeTimeoutsSchema = z.strictObject({
  connectMs: z.number().int().min(1).default(2000),
  clientMs: z.number().int().min(1).default(60_000),
  serverMs: z.number().int().min(1).default(60_000),
  httpRequestMs: z.number().int().min(1).default(10_000),
  queueMs: z.number().int().min(1).default(10_000),
  /**
   * How long the edge waits for a replica's readiness answer (`timeout check`). Without it HAProxy waits only its
   * check interval (500 ms): on a busy host every replica was marked DOWN at once and the edge answered 503.
   */
  checkMs: z.number().int().min(100).default(5000),
});

export const apiSchema = z.strictObject({
  replicas: z.number().int().min(1).max(20),
  port: port.default(3000),
  limits: limitsSchema.default(() => ({ ...DEFAULT_API_LIMITS })),
  restartPolicy: restartPolicySchema.default("unless-stopped"),
  /**
   * Free-form: any variable names (secret-looking ones are refused by stacks/policy.ts). A number or boolean is its
   * text, as in Compose: `pulumi config set --path slipway:api.env.PGPOOL_MAX 5` stores a YAML number.
   */
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default(() => ({})),
  volumes: z.array(volumeSchema).default(() => []),
  healthcheck: healthcheckSchema.prefault({}),
  rollout: rolloutSchema.prefault({}),
});

export const edgeSchema = z.strictObject({
  port,
  bindAddress: z.string().default("127.0.0.1"),
  /**
   * Where clients reach the edge (`https://api.example.com`), when that is not what the Pulumi machine derives from
   * dockerHost and bindAddress (a proxy or load balancer in front, a DNS name): the `edgeUrl` output, which promote,
   * rollback and CI's smoke test call. Unset: derived.
   */
  publicUrl: z.string().regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, "must be an http(s) URL such as https://api.example.com").optional(),
  limits: limitsSchema.optional(),
  restartPolicy: restartPolicySchema.default("unless-stopped"),
  slots: z.number().int().min(2).max(100).default(10),
  /** Connect retries, on connection failures only (a request a replica may have seen is never replayed). */
  retries: z.number().int().min(1).default(3),
  timeouts: edgeTimeoutsSchema.prefault({}),
  /** X-Content-Type-Options, X-Frame-Options, Referrer-Policy, CSP frame-ancestors on every response. */
  securityHeaders: z.boolean().default(true),
  cors: z
    .strictObject({
      /** Exact origins (`https://app.example.com`) allowed cross-origin requests; "*" any (refused in production). */
      allowedOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d+)?)$/, "must be an origin such as https://app.example.com, or *")).default(() => []),
    })
    .prefault({}),
  rateLimit: z
    .strictObject({
      /** Requests per client address per 10 s before the edge answers 429 (0: no limit). /up, /health, /metrics are exempt. */
      requestsPer10s: z.number().int().min(0).default(0),
    })
    .prefault({}),
  /**
   * HTTPS at the edge. The certificate chain and key are Pulumi secrets, top-level keys `slipway:tlsCertificate` and
   * `slipway:tlsKey`, set from stdin (`pulumi config set --secret tlsKey < privkey.pem`: never on a command line, where `ps`
   * shows it); plain HTTP on `port` then
   * redirects to `tls.port`. HSTS is sent in production.
   */
  tls: z
    .strictObject({
      enabled: z.boolean().default(false),
      port: port.default(8443),
    })
    .prefault({}),
});

/**
 * A hot standby (target docker): a second PostgreSQL container `<prefix>-db-standby` with its own volume, seeded by
 * pg_basebackup from the primary and streaming its WAL through a replication slot (src/postgres/standby.ts), ready for
 * `npm run failover` (src/failover). Switching it on does not replace the primary's container.
 */
export const standbySchema = z.strictObject({
  enabled: z.boolean().default(false),
  /**
   * Commits wait until the standby has flushed them (synchronous_standby_names + synchronous_commit on): a row
   * acknowledged to a client survives the primary's loss. The price: every commit waits a round trip to the standby,
   * and writes stop while the standby is down (RUNBOOK "The database host is gone").
   */
  synchronous: z.boolean().default(false),
  /**
   * Which of the two containers is the primary: `db` (`<prefix>-db`) or `standby` (`<prefix>-db-standby`).
   * `npm run failover` sets it when it promotes the standby; nobody else needs to.
   */
  serving: z.enum(["db", "standby"]).default("db"),
  /**
   * How long an API request waits for a database connection while the primary cannot be reached (the replicas'
   * PGCONNECT_WAIT_MS, src/api/config.ts): the time `npm run failover` has before a request that arrived after the
   * primary's loss fails. Requests in flight on the lost primary fail at once whatever it is.
   */
  apiWaitSeconds: z.number().int().min(0).max(300).default(30),
});

export const databaseSchema = z.strictObject({
  name: identifier.default("app"),
  user: identifier.default("app"),
  limits: limitsSchema.optional(),
  restartPolicy: restartPolicySchema.default("unless-stopped"),
  /**
   * Production only: replace a database container created with its initdb password in its environment (before
   * secrets as files) on this deploy, so the password leaves `docker inspect` (src/postgres/initdb-password.ts). The
   * container is protected: unprotect it for that deploy (RUNBOOK.md §2). Staging's is replaced without asking.
   */
  convertPasswordEnv: z.boolean().default(false),
  standby: standbySchema.prefault({}),
});

/**
 * The stack lock a deploy and the backup, restore and maintenance verbs take on the Docker host
 * (src/docker/stack-lock.ts): how long one waits for another before it refuses (the verbs' --lock-wait; a deploy
 * waits as long), and after how long a lock whose holder's host cannot check its pid counts as abandoned.
 */
export const LOCK_DEFAULTS = { waitSeconds: 600, staleAfterHours: 6 } as const;

/** The defaults of `backup.*`; the backup verb uses them too when it is run without a stack (--db-container). */
export const BACKUP_DEFAULTS = { keep: 7, keepWeeks: 4 } as const;

/**
 * backup.verify when the stack writes none, by environment: production proves every pre-deploy backup by a restore,
 * so its newest backup is a verified one and a restore in an emergency needs no --allow-unverified (restore refuses
 * unverified dumps in production); staging keeps its deploys quick. Without a stack (--db-container), --verify only.
 */
export const BACKUP_VERIFY_DEFAULT = { production: true, staging: false } as const;

/**
 * Continuous WAL archiving with pgBackRest (src/backup/wal.ts): the database archives every WAL segment into a
 * repository on its own second volume (`<prefix>-pgwal`), takes a full base backup when archiving starts and a
 * differential one before every deploy, so `npm run restore -- --to-time T | --to-latest` can bring it back to any
 * moment since the oldest kept base backup. Needs an image with pgBackRest (docker-bake.hcl target `postgres`).
 */
/**
 * backup.wal.offHost: a second pgBackRest repository on another machine over SFTP (repo2): every WAL segment is pushed
 * to both, and every base backup taken in both, so losing the host — the data volume and the local repository with it
 * — loses at most archive_timeout of writes. The private key is the Pulumi secret `slipway:walSftpKey` (a file in the
 * database container, never in its env); the server's host key is checked against `hostKey`, never trusted on first use.
 */
export const walOffHostSchema = z.strictObject({
  host: z.string().regex(/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/, "must be a host name or an IP address"),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_.-]*$/i, "must be a user name"),
  /** the repository's directory on the server (pgBackRest repo2-path) */
  path: z.string().regex(/^\/[^\s:]*$/, "must be an absolute path without spaces"),
  /** the server's public host key as `ssh-keyscan` prints it, type and key: `ssh-ed25519 AAAA…` */
  hostKey: z.string().regex(/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/, "must be a public host key: its type and base64 key, e.g. ssh-ed25519 AAAAC3Nz… (ssh-keyscan -t ed25519 HOST)"),
  /** Full base backups kept off the host (repo2-retention-full). Unset: backup.wal.keepFull. */
  keepFull: z.number().int().min(1).max(100).optional(),
});

export const walSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /**
   * PostgreSQL's archive_timeout: a WAL segment with any committed write is archived at the latest this many
   * seconds after it was started — the most a lost volume can cost (RUNBOOK "The database host is gone").
   */
  archiveTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
  /** Full base backups kept (pgBackRest repo1-retention-full); older ones and the WAL before them are expired. */
  keepFull: z.number().int().min(1).max(100).default(2),
  offHost: walOffHostSchema.optional(),
});

export const backupSchema = z.strictObject({
  enabled: z.boolean(),
  dir: z.string().startsWith("/", "must be an absolute directory on the machine running pulumi"),
  /** Keep at most this many backups of the stack (the newest)… */
  keep: z.number().int().min(1).default(BACKUP_DEFAULTS.keep),
  /**
   * …plus the newest of each of the last this-many weeks (a spread: a day of quick deploys cannot rotate out last
   * week's dump; 0: none), and always the newest verified dump…
   */
  keepWeeks: z.number().int().min(0).max(520).default(BACKUP_DEFAULTS.keepWeeks),
  /** …and none older than this many days (unset: no age limit). The backup just taken is always kept. */
  maxAgeDays: z.number().int().min(1).optional(),
  /**
   * Prove each pre-deploy backup by restoring it into a throwaway PostgreSQL and comparing row counts. Unset: the
   * environment's default (BACKUP_VERIFY_DEFAULT, applied by withBackupDefaults).
   */
  verify: z.boolean().optional(),
  /**
   * Copy each backup (with its checksum and verification record) off the host with rclone, to this remote
   * path (`<remote>:<path>`, the remote defined in rclone's config or RCLONE_CONFIG_<NAME>_* variables) or
   * absolute path (a mounted disk). Unset: no copy.
   */
  copyTo: z
    .string()
    .regex(/^(\/[^\n]*|:?[\w.+@-][\w.+@ -]*(,[^:\n]*)?:[^\n]*)$/, "must be an rclone remote path such as sftp:backups/slipway, or an absolute path")
    .optional(),
  wal: walSchema.prefault({}),
});

/**
 * A Prometheus server for the stack (infra/components/monitoring.ts): on the edge network, never published,
 * scraping every API replica's /metrics and the edge's exporter, with monitoring/alerts.yml loaded.
 */
/**
 * Alertmanager beside Prometheus (monitoring.alerting): the alert rules' notifications go to one webhook receiver
 * (a chat bridge, an incident tool, your own endpoint), resolved ones too. A bearer token for it, if the receiver
 * wants one, is the secret `slipway:alertWebhookToken` (a file in the container, never in its config or env).
 */
const alertingSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Local stand-in: slipway-local/alertmanager:0 (tools/images.sh). */
    image: imageRef.default("prom/alertmanager:v0.28.1"),
    /** Where notifications are POSTed (Alertmanager's webhook JSON); required when enabled. */
    webhookUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    /** How long the first alert of a group waits for others before its notification is sent. */
    groupWaitSeconds: z.number().int().min(0).max(3600).default(30),
    /** How long before a group that changed (new or resolved alerts) notifies again. */
    groupIntervalSeconds: z.number().int().min(1).max(24 * 3600).default(300),
    /** How long before a still-firing alert is sent again. */
    repeatIntervalMinutes: z.number().int().min(1).max(7 * 24 * 60).default(240),
    limits: limitsSchema.default(() => ({ memoryMb: 64, cpus: 0.25 })),
  })
  .superRefine((a, ctx) => {
    if (a.enabled && a.webhookUrl === undefined) {
      ctx.addIssue({ code: "custom", path: ["webhookUrl"], message: "is required when monitoring.alerting.enabled is true (the receiver's URL)" });
    }
  });

const monitoringSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Local stand-in: slipway-local/prometheus:2 (tools/images.sh). */
  image: imageRef.default("prom/prometheus:v2.53.3"),
  /** How long samples are kept (--storage.tsdb.retention.time). */
  retentionHours: z.number().int().min(1).max(24 * 365).default(168),
  /** Scrape and rule evaluation interval. */
  scrapeIntervalSeconds: z.number().int().min(1).max(300).default(15),
  limits: limitsSchema.default(() => ({ memoryMb: 512, cpus: 0.5 })),
  restartPolicy: restartPolicySchema.default("unless-stopped"),
  /**
   * The stack's Pushgateway (same network, never published), which Prometheus scrapes with honor_labels and the
   * backup verb pushes slipway_backup_* to. Local stand-in: slipway-local/pushgateway:1 (tools/images.sh).
   */
  pushgatewayImage: imageRef.default("prom/pushgateway:v1.11.0"),
  pushgatewayLimits: limitsSchema.default(() => ({ memoryMb: 64, cpus: 0.25 })),
  /**
   * Per-alert `for:` durations in seconds, by alert name (e.g. `ApiReplicasMissing: 60`), written into the rules the
   * stack's Prometheus loads; the others keep monitoring/alerts.yml's. A name that is not an alert there is refused.
   */
  alertFor: z.record(z.string(), z.number().int().min(0).max(7 * 24 * 3600)).default({}),
  alerting: alertingSchema.prefault({}),
})
  .superRefine((m, ctx) => {
    if (m.alerting.enabled && !m.enabled) {
      ctx.addIssue({ code: "custom", path: ["alerting", "enabled"], message: "needs monitoring.enabled: true (Alertmanager receives Prometheus's alerts)" });
    }
  });

/**
 * `target: swarm` (infra/targets/swarm.ts): where Swarm places things and how its networks are made. Refused on
 * `target: docker` (stacks/policy.ts), like every key that makes no sense for the target.
 */
export const swarmSchema = z.strictObject({
  /**
   * The stack's overlay networks carry IPsec-encrypted VXLAN (`--opt encrypted`). On by default: traffic between
   * nodes (API ↔ database, edge ↔ API, the edge's runtime API) crosses the hosts' network. Turn it off only where the
   * kernel has no ESP (this project's lab does not) or the link is trusted.
   */
  encrypted: z.boolean().default(true),
  /** Placement constraints for the API's tasks (Swarm syntax, e.g. `node.labels.zone==a`), beside the spread over nodes. */
  apiPlacement: z.array(z.string().regex(/^[\w.-]+\s*(==|!=)\s*[^\s]+$/, "must be a Swarm constraint such as node.labels.zone==a")).default(() => []),
  /**
   * How long a one-off task (database roles, migrations) may take from creation to exit (the first needs the image on
   * the node), and every edge task to run the edge's spec with its config loaded after a change (`pulumi up` waits).
   */
  taskTimeoutMs: z.number().int().min(10_000).default(300_000),
});

const stackConfigObject = z.strictObject({
  environment: z.enum(["staging", "production"]),
  /**
   * The engine that runs the stack: `docker`, one Docker engine (dockerHost); `swarm`, a Docker Swarm whose manager
   * dockerHost names (README "Target swarm"). Keys the target does not support are refused (stacks/policy.ts).
   */
  target: z.enum(["docker", "swarm"]).default("docker"),
  /** Docker engine to deploy to; unset means the local engine (or DOCKER_HOST of the operator). */
  dockerHost: z.string().optional(),
  images: z.strictObject({
    api: imageRef,
    edge: imageRef,
    postgres: imageRef,
  }),
  api: apiSchema,
  edge: edgeSchema,
  database: databaseSchema,
  backup: backupSchema.optional(),
  monitoring: monitoringSchema.prefault({}),
  /** Only with target swarm. */
  swarm: swarmSchema.prefault({}),
  /** Docker log rotation (json-file) for every container the stack runs. */
  logs: z
    .strictObject({
      maxSizeMb: z.number().int().min(1).default(10),
      maxFiles: z.number().int().min(1).default(3),
    })
    .prefault({}),
});

export type Environment = z.infer<typeof stackConfigObject>["environment"];

/** The backup section with the defaults that depend on the environment applied (backup.verify). */
export function withBackupDefaults<B extends z.infer<typeof backupSchema>>(backup: B, environment: Environment): B & { verify: boolean } {
  return { ...backup, verify: backup.verify ?? BACKUP_VERIFY_DEFAULT[environment] };
}

/** The whole stack configuration; the defaults that depend on the environment are applied after the object's. */
export const stackConfigSchema = stackConfigObject.transform((cfg) => ({ ...cfg, backup: cfg.backup && withBackupDefaults(cfg.backup, cfg.environment) }));

/**
 * Top-level keys of the namespace that are known but not parsed here: `secretEnv` is read by
 * infra/index.ts as a Pulumi secret (its values may be encrypted or placeholders at load time), so the
 * loader accepts it and leaves it out of the parsed config.
 */
export const secretConfigKeys = ["secretEnv", "tlsCertificate", "tlsKey", "alertWebhookToken", "walSftpKey"] as const;

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type RestartPolicy = z.infer<typeof restartPolicySchema>;
export type RolloutSettings = z.infer<typeof rolloutSchema>;
export type EdgeTimeouts = z.infer<typeof edgeTimeoutsSchema>;
/** How long each rollout step may take (api.rollout): the executor's budgets. */
export type RolloutTimeouts = Pick<RolloutSettings, "healthTimeoutMs" | "edgeUpTimeoutMs" | "drainTimeoutMs" | "stopGraceSeconds">;
/** The strategy part of api.rollout. */
export type StrategySettings = Pick<RolloutSettings, "strategy" | "surge" | "blueGreen" | "canary">;
export type CanarySettings = RolloutSettings["canary"];
export type Strategy = RolloutSettings["strategy"];
export type BackupSettings = NonNullable<StackConfig["backup"]>;
export type WalSettings = BackupSettings["wal"];
export type WalOffHost = NonNullable<WalSettings["offHost"]>;
export type StandbySettings = StackConfig["database"]["standby"];
export type MonitoringSettings = StackConfig["monitoring"];
export type SwarmSettings = StackConfig["swarm"];
export type Target = StackConfig["target"];

/** Every top-level key of the `slipway` config namespace: the parsed ones, in schema order, then `secretEnv`. */
export const configKeys = [...Object.keys(stackConfigObject.shape), ...secretConfigKeys] as (
  | keyof StackConfig
  | (typeof secretConfigKeys)[number]
)[];
