// The hot standby of a stack (database.standby, target docker): what the primary needs for it (a replication role, a
// pg_hba line for it, a physical replication slot, synchronous_standby_names when synchronous) and how the standby
// container starts (seeded once by pg_basebackup through the slot, then streaming). Pure: scripts and argv built here
// and unit-tested; the program's Standby component (infra/components/standby.ts: its steps and its container) runs
// them, the failover (src/failover) promotes and fences with them.
//
// The two members are `<prefix>-db` and `<prefix>-db-standby`; whichever is the primary carries the `db` network alias
// the API and the migrations connect to, so the standby streams from `db` too and a promoted standby needs no new
// conninfo. The replication role's password is a secret file in the standby (a passfile), never in its environment.
import { DB_HOST, DB_ROLES } from "../vocabulary";
import { type Database, shellJoin } from "./commands";

/** The replication slot on the primary that keeps the WAL the standby has not received yet. */
export const STANDBY_SLOT = "slipway_standby";
/** How much WAL the slot may hold back for a standby that is away (max_slot_wal_keep_size); beyond, the slot is lost. */
export const MAX_SLOT_WAL_KEEP = "4GB";
/** The standby's application_name, which synchronous_standby_names names. */
export const STANDBY_APPLICATION = "slipway_standby";
/** The environment variable the replication step reads the role's password from (never on a command line). */
export const REPLICATION_PASSWORD_ENV = "SLIPWAY_DB_REPLICATION_PASSWORD";
/** Where the program uploads the passfile line into the standby container (root-owned; the start script copies it 0600). */
export const REPLICATION_PASSFILE_UPLOAD = "/run/slipway/replication.pgpass";
/** The passfile the standby's server and pg_basebackup read (0600, owned by postgres: libpq ignores a looser one). */
export const REPLICATION_PASSFILE = "/var/lib/postgresql/.slipway-replication.pgpass";
/** A file the failover leaves in a fenced primary's data directory beside standby.signal: why it will not start as a writer. */
export const FENCE_MARKER = "slipway.fenced";

/** The container names of a stack's two members. */
export function memberNames(prefix: string): { db: string; standby: string } {
  return { db: `${prefix}-db`, standby: `${prefix}-db-standby` };
}

/** The standby's data volume. */
export function standbyVolume(prefix: string): string {
  return `${prefix}-pgdata-standby`;
}

/** The passfile line for the replication role (the `replication` pseudo-database, any host). */
export function replicationPassfile(password: string): string {
  // In a passfile, `:` and `\` are escaped with a backslash (the generated password has neither; a hand-set one may).
  return `*:*:replication:${DB_ROLES.replication}:${password.replace(/[\\:]/g, (c) => `\\${c}`)}\n`;
}

/**
 * What the primary needs before a standby can be seeded, as psql (ON_ERROR_STOP; variable `replication_password` set
 * before it): the replication role (REPLICATION LOGIN, no other right) and its slot. Idempotent.
 */
export function replicationScript(): string {
  const role = DB_ROLES.replication;
  return [
    "SET client_min_messages = warning;",
    `SELECT format('CREATE ROLE %I', '${role}') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') \\gexec`,
    `ALTER ROLE ${role} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'replication_password';`,
    `SELECT format('SELECT pg_create_physical_replication_slot(%L)', '${STANDBY_SLOT}') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = '${STANDBY_SLOT}') \\gexec`,
    // A slot keeps WAL for a standby that is away; bounded, a standby too far behind loses its slot (re-seed it) rather
    // than the primary its disk. ALTER SYSTEM: in the data directory, so pg_basebackup copies it to the standby.
    `ALTER SYSTEM SET max_slot_wal_keep_size = '${MAX_SLOT_WAL_KEEP}';`,
    "SELECT pg_reload_conf();",
    "",
  ].join("\n");
}

/**
 * synchronous_standby_names on the primary, once the standby streams: the standby's name when `synchronous` (every
 * commit then waits until the standby has flushed it; synchronous_commit stays `on`, the default), else none. ALTER
 * SYSTEM: the container is not replaced, and the setting follows the data directory.
 */
export function synchronousSql(synchronous: boolean): string {
  return synchronous ? `ALTER SYSTEM SET synchronous_standby_names = '${STANDBY_APPLICATION}'` : "ALTER SYSTEM RESET synchronous_standby_names";
}

/** The pg_hba.conf line that lets the replication role stream over the backend network, with its password. */
export const REPLICATION_HBA_LINE = `host replication ${DB_ROLES.replication} all scram-sha-256`;

/**
 * The replication step's shell command (run where the program runs, DOCKER_HOST set): the pg_hba line added once (as the
 * postgres user; the script reloads), then the script as the superuser on the primary's local socket, the password
 * from REPLICATION_PASSWORD_ENV through printf into psql's stdin — on no command line.
 */
export function replicationCommand(primary: string, db: Database): string {
  const hba = `grep -qxF ${shellJoin([REPLICATION_HBA_LINE])} "$PGDATA/pg_hba.conf" || printf '\\n%s\\n' ${shellJoin([REPLICATION_HBA_LINE])} >> "$PGDATA/pg_hba.conf"`;
  const psql = ["docker", "exec", "-i", primary, "psql", "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--username", db.user, "--dbname", db.database];
  return [
    `case "$${REPLICATION_PASSWORD_ENV}" in ''|*[!A-Za-z0-9]*) echo "${REPLICATION_PASSWORD_ENV} must be letters and digits" >&2; exit 2;; esac`,
    shellJoin(["docker", "exec", "-u", "postgres", primary, "sh", "-c", hba]),
    `{ printf '\\\\set replication_password %s\\n' "$${REPLICATION_PASSWORD_ENV}"; printf '%s' ${shellJoin([replicationScript()])}; } | ${shellJoin(psql)}`,
  ].join("\n");
}

/**
 * The synchronous step's shell command that applies synchronous_standby_names on the primary. On: first waits (up to
 * `seconds`) until the standby streams — set earlier, every commit would wait for a standby still seeding, or for one
 * that never comes; still not streaming, the step fails naming it. Off: reset at once.
 */
export function synchronousCommand(primary: string, db: Pick<Database, "user">, synchronous: boolean, seconds = 300): string {
  const sql = (statement: string) => shellJoin(["docker", "exec", "-u", "postgres", primary, ...memberSql(db, statement)]);
  const apply = `${sql(synchronousSql(synchronous))} && ${sql("SELECT pg_reload_conf()")} >/dev/null`;
  if (!synchronous) return apply;
  const streaming = `SELECT count(*) FROM pg_stat_replication WHERE application_name = '${STANDBY_APPLICATION}' AND state = 'streaming'`;
  const wait = `i=0; until [ "$(${sql(streaming)})" = 1 ]; do i=$((i+1)); [ $i -lt ${seconds} ] || { echo "the standby (${STANDBY_APPLICATION}) does not stream from ${primary} after ${seconds} s: synchronous commits not switched on (docker logs of the standby say why)" >&2; exit 1; }; sleep 1; done`;
  return `${wait} && ${apply}`;
}

/**
 * The standby container's command (run by the image's entrypoint as root, like any command that is not `postgres`):
 * the passfile copied 0600 for postgres; on an empty data directory, pg_basebackup from the primary through the slot
 * (retried until the primary answers) and standby.signal; then the image's entrypoint with the server's flags:
 * primary_conninfo to `db`, the slot, and `serverArgs` (archiving, the same as the primary's). A data directory that is
 * there already is started as it is: a promoted standby restarts as the primary it became (no standby.signal), a fenced
 * one as a standby.
 */
export function standbyCommand(serverArgs: readonly string[]): string[] {
  const conninfo = `host=${DB_HOST} user=${DB_ROLES.replication} passfile=${REPLICATION_PASSFILE} application_name=${STANDBY_APPLICATION}`;
  const asPostgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"];
  const basebackup = [...asPostgres, "env", `PGPASSFILE=${REPLICATION_PASSFILE}`, "pg_basebackup", "--host", DB_HOST, "--username", DB_ROLES.replication, "--pgdata", "$PGDATA", "--wal-method=stream", `--slot=${STANDBY_SLOT}`, "--checkpoint=fast", "--no-password"];
  const script = [
    "set -eu",
    `install -o postgres -g postgres -m 600 ${REPLICATION_PASSFILE_UPLOAD} ${REPLICATION_PASSFILE}`,
    'mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"',
    'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
    `  echo "standby: seeding $PGDATA from ${DB_HOST} (pg_basebackup, slot ${STANDBY_SLOT})" >&2`,
    `  until ${basebackup.map((a) => (a === "$PGDATA" ? '"$PGDATA"' : shellJoin([a]))).join(" ")}; do`,
    '    echo "standby: pg_basebackup failed; retrying in 5 s" >&2; find "$PGDATA" -mindepth 1 -delete; sleep 5',
    "  done",
    '  touch "$PGDATA/standby.signal" && chown postgres:postgres "$PGDATA/standby.signal"',
    "fi",
    `exec docker-entrypoint.sh ${shellJoin(["postgres", "-c", `primary_conninfo=${conninfo}`, "-c", `primary_slot_name=${STANDBY_SLOT}`, ...serverArgs.slice(serverArgs[0] === "postgres" ? 1 : 0)])}`,
  ].join("\n");
  return ["bash", "-c", script];
}

/** psql as the superuser on a member's local socket, one statement, unaligned tuples (argv inside the container, as postgres). */
export function memberSql(db: Pick<Database, "user">, statement: string): string[] {
  return ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-U", db.user, "-d", "postgres", "-Atc", statement];
}

/** Promotes a standby and waits for it (pg_promote waits up to 60 s; prints t when promoted). */
export const PROMOTE_SQL = "SELECT pg_promote(true, 60)";
/**
 * On the promoted member: no synchronous standby to wait for (the one it copied the setting from is the lost primary;
 * with it set, every commit would hang until a new standby streams).
 */
export const AFTER_PROMOTE_SQL = "ALTER SYSTEM RESET synchronous_standby_names";

/** A re-seeded member's copy of the replication passfile, in its data directory (so it outlives its container). */
export const DATA_PASSFILE = "slipway-replication.pgpass";
/** Where the re-seed's throwaway container finds the passfile line (uploaded before it starts, root's, 0600). */
export const RESEED_PASSFILE_UPLOAD = "/run/slipway/replication.pgpass";

/**
 * The re-seed's script (bash, run as root in a throwaway container of the member's image with the member's data volume
 * at `pgdata`, on the backend network): the data directory emptied; pg_basebackup from the serving member (`db`)
 * through the slot as the replication role; the passfile kept in the data directory (0600, postgres's) and the standby
 * settings written after what the copy brought (primary_conninfo, the slot), standby.signal — started with any server
 * command, the member comes up as a standby of `db`.
 */
export function reseedScript(pgdata: string): string {
  const passfile = `${pgdata}/${DATA_PASSFILE}`;
  const conninfo = `host=${DB_HOST} user=${DB_ROLES.replication} passfile=${passfile} application_name=${STANDBY_APPLICATION}`;
  const asPostgres = "setpriv --reuid=postgres --regid=postgres --init-groups";
  return [
    "set -eu",
    `find ${pgdata} -mindepth 1 -delete`,
    `chown postgres:postgres ${pgdata} && chmod 700 ${pgdata}`,
    `install -o postgres -g postgres -m 600 ${RESEED_PASSFILE_UPLOAD} /tmp/replication.pgpass`,
    `${asPostgres} env PGPASSFILE=/tmp/replication.pgpass pg_basebackup --host ${DB_HOST} --username ${DB_ROLES.replication} --pgdata ${pgdata} --wal-method=stream --slot=${STANDBY_SLOT} --checkpoint=fast --no-password`,
    `install -o postgres -g postgres -m 600 /tmp/replication.pgpass ${passfile}`,
    `printf "%s\\n" ${shellJoin([`primary_conninfo = '${conninfo}'`, `primary_slot_name = '${STANDBY_SLOT}'`])} >> ${pgdata}/postgresql.auto.conf`,
    `${asPostgres} touch ${pgdata}/standby.signal`,
    `echo "re-seeded ${pgdata} from ${DB_HOST} (slot ${STANDBY_SLOT})"`,
  ].join("\n");
}
