// Command lines for backup and restore, Kamal style: functions that return argv arrays and do
// nothing else, so tests can assert the exact command. The pg_* ones run *inside* the database
// container (dockerode's exec with that argv, or `docker exec` via dockerExec); dumps travel over
// stdin/stdout so the file lives wherever the verb runs, never inside the container. (The backup verb
// itself as a command line, for the Pulumi program's pre-deploy step, is src/backup/verb.ts.)

import { DB_ROLES } from "../vocabulary";

export interface Database {
  /** database name, e.g. POSTGRES_DB */
  database: string;
  /** role to connect as over the container's local socket, e.g. POSTGRES_USER */
  user: string;
}

/**
 * Custom-format (compressed, selectively restorable) dump of one database to stdout, gzip at level 1 (DUMP_COMPRESSION).
 */
export function pgDump(db: Database): string[] {
  return ["pg_dump", "--format=custom", `--compress=${DUMP_COMPRESSION}`, "--username", db.user, "--dbname", db.database];
}

/**
 * gzip at level 1, not pg_dump's default 6: measured on the bench's 226 MB database, 2.0 s and 87 MB against 4.8 s
 * and 84 MB, read back (pg_restore) as fast. A bare number means gzip in every pg_dump version. Not zstd or lz4,
 * though faster still (zstd: 1.1 s, 71 MB): pg_dump writes their frames without checksums, so a dump corrupted before
 * its sha256 was taken reads back to its end without an error — gzip's CRC is what makes `pg_restore` reading the
 * whole archive a proof (the e2e ops-restore test corrupts bytes under a matching checksum).
 */
export const DUMP_COMPRESSION = "1";

/**
 * SQL that writes the SQL counting every table pg_dump dumps the data of: ordinary tables and
 * partitions (relkind 'r'; a partitioned parent has no rows of its own) outside the system schemas and
 * not owned by an extension. Materialized views are left out (restore refreshes them from the
 * restored tables, which may differ from their stale contents), so are foreign tables (no data
 * dumped). The counting query (run by psql's \gexec) prints one line, COUNTS_MARKER followed by a JSON
 * object `{"<schema>.<table>" (quoted like SQL identifiers): rows}`; `{}` without tables.
 */
export const COUNT_ROWS_SQL = [
  "SELECT 'SELECT ''" + "slipway-counts " + "'' || coalesce(json_object_agg(t, n ORDER BY t), ''{}'') FROM (' ||",
  "  coalesce(string_agg(format('SELECT %L AS t, count(*) AS n FROM %I.%I', format('%I.%I', n.nspname, c.relname), n.nspname, c.relname), ' UNION ALL '),",
  "           'SELECT NULL::text AS t, NULL::bigint AS n WHERE false') || ') s'",
  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
  "WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'",
  "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')",
].join("\n");
export const COUNTS_MARKER = "slipway-counts ";
export const DUMP_EXIT_MARKER = "slipway-pg_dump-exit=";

/** psql reading a script from stdin: no psqlrc, tuples only, unaligned, stop at the first error. */
export function psqlScript(db: Database): string[] {
  return ["psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--username", db.user, "--dbname", db.database];
}

/**
 * The psql script (for psqlScript's stdin) that counts every table's rows and dumps the database in
 * ONE snapshot: a REPEATABLE READ transaction exports its snapshot, counts in it, and keeps it open
 * while `pg_dump --snapshot` — started by psql's \! in the same container — dumps exactly that
 * state. Writes committed meanwhile are in neither. stdout carries the dump only (psql's own output
 * goes to stderr via \o); stderr carries the counts line and pg_dump's exit code (DUMP_EXIT_MARKER;
 * \! does not fail psql when its command fails).
 */
export function countedDumpScript(db: Database): string {
  return [
    "\\o /dev/stderr",
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
    "SELECT pg_export_snapshot() AS slipway_snapshot \\gset",
    `${COUNT_ROWS_SQL} \\gexec`,
    "\\setenv SLIPWAY_SNAPSHOT :slipway_snapshot",
    `\\! ${shellJoin(pgDump(db))} --snapshot="$SLIPWAY_SNAPSHOT"; echo "${DUMP_EXIT_MARKER}$?" >&2`,
    "COMMIT;",
    "",
  ].join("\n");
}

/** The psql script that prints the COUNTS_MARKER line for the database as it is now (stdout). */
export function countRowsScript(): string {
  return `${COUNT_ROWS_SQL} \\gexec\n`;
}

/** The table counts in a psql output, or undefined when the COUNTS_MARKER line is missing or not JSON. */
export function parseCounts(output: string): Record<string, number> | undefined {
  const line = output.split("\n").find((l) => l.startsWith(COUNTS_MARKER));
  if (line === undefined) return undefined;
  try {
    const counts = JSON.parse(line.slice(COUNTS_MARKER.length)) as unknown;
    if (typeof counts !== "object" || counts === null || Array.isArray(counts)) return undefined;
    return Object.values(counts).every((n) => Number.isInteger(n)) ? (counts as Record<string, number>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the *whole* dump from stdin and renders it as SQL into /dev/null. Unlike `--list`, which
 * stops after the table of contents (written first when pg_dump streams to a pipe), this reads and
 * decompresses every data block, so truncated or corrupted data is caught before anything is touched.
 */
export function pgRestoreReadAll(): string[] {
  return ["pg_restore", "--file=/dev/null"];
}

/** How long the restore waits for a lock on the existing data before it gives up (and changes nothing): `--lock-timeout`. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/** The restore's session in pg_stat_activity (application_name): what holds the locks while it runs. */
export const RESTORE_APPLICATION_NAME = "slipway-restore";

/** psql that ends the running restore's session (pg_terminate_backend: also between two statements): its transaction rolls back. */
export function cancelRestoreCommand(db: Database): string[] {
  return [
    ...["psql", "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--username", db.user, "--dbname", db.database],
    ...["--command", `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '${RESTORE_APPLICATION_NAME}'`],
  ];
}

/** What the restore script writes to stderr when pg_restore itself failed (the transaction was then rolled back). */
export const RESTORE_EXIT_MARKER = "slipway-pg_restore-exit=";

/**
 * The SQL the restore runs first, in its transaction: wait at most `lockTimeoutMs` for each lock, then drop every
 * schema of the database (all but pg_* and information_schema, with everything in them: tables added after the
 * dump too) and recreate an empty `public` as initdb makes it (owned by pg_database_owner, USAGE for everyone;
 * pg_dump never creates `public` itself). The drop takes every lock the restore needs on existing objects, so
 * lock_timeout bounds the whole wait (pg_restore's own output later sets lock_timeout = 0, harmlessly: nothing
 * it touches is visible to other sessions). The result: the database holds exactly what the dump holds.
 */
export function replaceSchemasSql(lockTimeoutMs: number): string {
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 1) throw new Error(`lock timeout must be a whole number of ms ≥ 1, got ${lockTimeoutMs}`);
  return [
    "BEGIN;",
    "SET client_min_messages = warning;",
    `SET lock_timeout = '${lockTimeoutMs}ms';`,
    "DO $slipway$",
    "DECLARE s name;",
    "BEGIN",
    "  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%' ORDER BY nspname LOOP",
    "    EXECUTE format('DROP SCHEMA %I CASCADE', s);",
    "  END LOOP;",
    "  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_database_owner') THEN",
    "    CREATE SCHEMA public AUTHORIZATION pg_database_owner;",
    "    GRANT USAGE ON SCHEMA public TO PUBLIC;",
    "  ELSE",
    "    CREATE SCHEMA public;",
    "    GRANT ALL ON SCHEMA public TO PUBLIC;",
    "  END IF;",
    "  COMMENT ON SCHEMA public IS 'standard public schema';",
    "END",
    "$slipway$;",
    // What the dump creates belongs to the stack's owner role (when the stack has one: src/postgres/roles.ts), so the
    // migrations keep owning the schema and the owner's default privileges give the API role its grants again.
    `DO $slipway$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${DB_ROLES.owner}') THEN EXECUTE 'SET ROLE ${DB_ROLES.owner}'; END IF; END $slipway$;`,
    "",
  ].join("\n");
}

// $1 user, $2 database, $3 the SQL that opens the transaction. The dump arrives on stdin; pg_restore turns it into
// SQL (no connection of its own) and psql runs prelude + that SQL in ONE transaction, stopping at the first error
// (which rolls everything back). COMMIT is sent only when pg_restore read the whole archive; otherwise ROLLBACK
// and RESTORE_EXIT_MARKER on stderr (psql then exits 0: the marker is what tells).
const RESTORE_SCRIPT = [
  "set -u",
  "{",
  '  printf \'%s\\n\' "$3"',
  "  pg_restore --file=- --no-owner --no-privileges",
  "  rc=$?",
  `  if [ "$rc" -eq 0 ]; then printf 'COMMIT;\\n'; else printf 'ROLLBACK;\\n'; printf '${RESTORE_EXIT_MARKER}%s\\n' "$rc" >&2; fi`,
  `} | PGAPPNAME=${RESTORE_APPLICATION_NAME} psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --username "$1" --dbname "$2" >/dev/null`,
].join("\n");

/**
 * All-or-nothing restore from stdin into an existing database: the database's schemas are replaced wholesale by
 * the dump's (replaceSchemasSql), in one transaction with the dump's SQL, so any error — a lock not granted within
 * `lockTimeoutMs`, a failing statement, an unreadable archive — rolls everything back. Ownership and grants are
 * not restored: the stack's own user owns everything, and a dump from a stack with other role names (restored
 * with --force) would otherwise fail on roles that do not exist here: what the dump creates is owned by the stack's
 * owner role when it has one (replaceSchemasSql), else by the superuser. Judge the result with restoreProblem.
 */
export function pgRestoreReplace(db: Database, lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS): string[] {
  return ["sh", "-c", RESTORE_SCRIPT, "slipway-restore", db.user, db.database, replaceSchemasSql(lockTimeoutMs)];
}

/** Why a pgRestoreReplace run failed (and was rolled back), from its exit code and stderr; undefined when it committed. */
export function restoreProblem(result: { exitCode: number; stderr: string }): string | undefined {
  const lines = result.stderr.split("\n");
  const marker = lines.find((l) => l.startsWith(RESTORE_EXIT_MARKER));
  const said = lines.filter((l) => !l.startsWith(RESTORE_EXIT_MARKER) && l.trim() !== "").join("\n").trim();
  if (result.exitCode === 0 && marker === undefined) return undefined;
  if (/canceling statement due to lock timeout/.test(said)) {
    return `another session held a lock on the existing data longer than the lock timeout (${said}); stop what holds it (maintenance mode stops the API's traffic) or raise --lock-timeout`;
  }
  if (marker !== undefined) return `pg_restore could not read the archive (exit ${marker.slice(RESTORE_EXIT_MARKER.length)}): ${said}`;
  return said || `exit ${result.exitCode}`;
}

/** The `docker exec` equivalent of running `argv` in `container` (with `-i` when it reads stdin). */
export function dockerExec(container: string, argv: readonly string[], opts: { stdin?: boolean } = {}): string[] {
  return ["docker", "exec", ...(opts.stdin ? ["-i"] : []), container, ...argv];
}

/**
 * rclone (Debian's package; remotes from rclone's own config file or RCLONE_CONFIG_<NAME>_* variables):
 * copy one file to exactly `to` (a remote path such as `sftp:backups/slipway/<name>`, or a local path).
 * rclone checks the size, and the hash when both ends can compute the same one.
 */
export function rcloneCopyTo(from: string, to: string): string[] {
  return ["rclone", "copyto", from, to];
}

/** The names of the files directly in a remote directory, one a line. */
export function rcloneList(dir: string): string[] {
  return ["rclone", "lsf", "--files-only", "--max-depth", "1", dir];
}

/** POSIX-shell quoting: words of safe characters stay bare, everything else is single-quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}
