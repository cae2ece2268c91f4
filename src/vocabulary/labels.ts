// The Docker labels slipway puts on everything it runs, and the roles a container can have. One home: the program
// (infra/), the rollout engine, the edge, the backup/restore verbs and the tests all read these names from here.

/** The project a stack belongs to (Pulumi project name). */
export const LABEL_PROJECT = "slipway.project";
/** The stack's Docker name prefix (`<project>-<stack>`): every container, network and volume of a stack carries it. */
export const LABEL_STACK = "slipway.stack";
/** What a container is for (one of ROLES), for containers that are not replicas of a replica set. */
export const LABEL_ROLE = "slipway.role";
/** A replica set's service name (`api`), its revision and the replica's number. */
export const LABEL_RESOURCE = "slipway.resource";
export const LABEL_REVISION = "slipway.revision";
export const LABEL_REPLICA = "slipway.replica";
/**
 * The environment (production, staging) a stack's database container holds data of: restore reads it from the
 * container itself, so no flag can point a staging restore at production's data.
 */
export const LABEL_ENVIRONMENT = "slipway.environment";

/** Values of LABEL_ROLE. */
export const ROLES = {
  /** An HAProxy process of the edge (several during a handover). */
  edge: "edge",
  /** The small container that owns the edge's published port and network namespace. */
  edgeHolder: "edge-holder",
  prometheus: "prometheus",
  pushgateway: "pushgateway",
  alertmanager: "alertmanager",
  /** A one-off container running the API image's migrations. */
  migrate: "migrate",
  /** A throwaway PostgreSQL a backup is restored into to prove it. */
  backupVerify: "backup-verify",
  /** Target swarm: the container on the manager a backup runs the database's tools in (src/swarm/db-client.ts). */
  dbClient: "db-client",
  /** A Swarm config holding one haproxy.cfg the edge's config server served (src/swarm/configs.ts). */
  edgeConfig: "edge-config",
  /** A Swarm secret holding one certificate and key (PEM) the edge's config server served. */
  edgeTls: "edge-tls",
  /** The stack's lock on its Docker host (src/docker/stack-lock.ts): created, never started, by a deploy or a verb. */
  lock: "lock",
} as const;

export type Role = (typeof ROLES)[keyof typeof ROLES];
