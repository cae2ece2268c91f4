// Command lines for backup and restore, Kamal style: functions that return argv arrays and do
// nothing else, so tests can assert the exact command. The pg_* ones run *inside* the database
// container (dockerode's exec with that argv, or `docker exec` via dockerExec); dumps travel over
// stdin/stdout so the file lives wherever the verb runs, never inside the container. backupVerb is
// the backup verb itself, as the Pulumi program's pre-deploy command runs it on this machine.

export interface Database {
  /** database name, e.g. POSTGRES_DB */
  database: string;
  /** role to connect as over the container's local socket, e.g. POSTGRES_USER */
  user: string;
}

/** Custom-format (compressed, selectively restorable) dump of one database to stdout. */
export function pgDump(db: Database): string[] {
  return ["pg_dump", "--format=custom", "--username", db.user, "--dbname", db.database];
}

/**
 * Reads the *whole* dump from stdin and renders it as SQL into /dev/null. Unlike `--list`, which
 * stops after the table of contents (written first when pg_dump streams to a pipe), this reads and
 * decompresses every data block, so truncated or corrupted data is caught before anything is touched.
 */
export function pgRestoreReadAll(): string[] {
  return ["pg_restore", "--file=/dev/null"];
}

/**
 * All-or-nothing restore from stdin into an existing database: one transaction, stop at the first
 * error (which rolls everything back), drop each object before recreating it. Ownership and grants
 * are not restored: the stack's own user owns everything, and a dump from a stack with other role
 * names (restored with --force) would otherwise fail on roles that do not exist here.
 */
export function pgRestore(db: Database): string[] {
  return [
    "pg_restore",
    "--single-transaction",
    "--exit-on-error",
    "--clean",
    "--if-exists",
    "--no-owner",
    "--no-privileges",
    "--username",
    db.user,
    "--dbname",
    db.database,
  ];
}

/** The `docker exec` equivalent of running `argv` in `container` (with `-i` when it reads stdin). */
export function dockerExec(container: string, argv: readonly string[], opts: { stdin?: boolean } = {}): string[] {
  return ["docker", "exec", ...(opts.stdin ? ["-i"] : []), container, ...argv];
}

/** The flags of `npm run backup` (src/cli/backup.ts) the pre-deploy command passes, one field per flag. */
export interface BackupVerbFlags {
  /** --stack: since --db-container is always given, only the name the backups are filed under (the program passes its Docker prefix, slipway-<stack>) */
  stack: string;
  /** --db-container */
  dbContainer: string;
  /** --dir */
  dir: string;
  /** --keep (the verb's default when absent) */
  keep?: number;
  /** --max-age-days (no age limit when absent) */
  maxAgeDays?: number;
  /** --image-tag */
  imageTag?: string;
  /** --database */
  database?: string;
  /** --user */
  user?: string;
}

/**
 * The `npm run backup` verb as argv, run from the repository root — what the Pulumi program's
 * pre-deploy `command.local.Command` executes (joined with shellJoin, since `create` is a shell string).
 */
export function backupVerb(opts: BackupVerbFlags): string[] {
  return [
    "node",
    "--import",
    "tsx",
    "src/cli/backup.ts",
    "--stack",
    opts.stack,
    "--db-container",
    opts.dbContainer,
    "--dir",
    opts.dir,
    ...(opts.keep === undefined ? [] : ["--keep", String(opts.keep)]),
    ...(opts.maxAgeDays === undefined ? [] : ["--max-age-days", String(opts.maxAgeDays)]),
    ...(opts.imageTag === undefined ? [] : ["--image-tag", opts.imageTag]),
    ...(opts.database === undefined ? [] : ["--database", opts.database]),
    ...(opts.user === undefined ? [] : ["--user", opts.user]),
  ];
}

/** POSIX-shell quoting: words of safe characters stay bare, everything else is single-quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}
