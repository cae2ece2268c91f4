// The PostgreSQL roles of a stack's database. The superuser (database.user, the image's POSTGRES_USER) is for
// slipway's own administrative steps, over the database container's local socket only (its password is cleared, so
// it cannot log in over the network); the migrations run as OWNER, which owns the database and its schema but is not
// a superuser; the API runs as API, with DML on the owner's tables and sequences (default privileges cover every
// table a later migration creates). Shared by the program, the roles step and restore.
/** The name other containers on the backend network reach the serving database by (its network alias). */
export const DB_HOST = "db";

export const DB_ROLES = {
  owner: "slipway_owner",
  api: "slipway_api",
  /** The hot standby's streaming connection (database.standby): REPLICATION LOGIN, nothing else (src/postgres/standby.ts). */
  replication: "slipway_replicator",
} as const;

/** The prefix of the temporary login role restore runs the migrations with (a member of OWNER, dropped after). */
export const DB_TEMP_ROLE_PREFIX = "slipway_restore_";
