// Continuous WAL archiving with pgBackRest (backup.wal): the one description of how a stack's database container
// archives and where its repository is, shared by the program (infra/components/database.ts declares it,
// deploy-steps.ts takes the base backups) and the point-in-time restore (src/restore/pitr.ts reads it back from
// the container). pgBackRest is configured through PGBACKREST_* environment variables only — no file to keep in
// step — so `archive_command`, a `docker exec … pgbackrest` and a one-off restore container all see the same
// settings. The repository is a second volume (`<prefix>-pgwal`) beside the data volume: losing the data volume
// loses at most the WAL not yet archived (archive_timeout).
import type { WalSettings } from "../../stacks/schema";

/** Where the data volume is mounted (the official image's PGDATA). */
export const PGDATA = "/var/lib/postgresql/data";
/** Where the repository volume is mounted (pgBackRest's default repo1-path). */
export const WAL_REPO_PATH = "/var/lib/pgbackrest";
/** The OS user pgBackRest runs as in the container (owner of PGDATA). */
export const WAL_OS_USER = "postgres";
/** The environment variable that marks a database container as archiving (its value is the stanza). */
export const STANZA_ENV = "PGBACKREST_STANZA";

/** The repository volume of a stack's database. */
export function walRepoVolume(prefix: string): string {
  return `${prefix}-pgwal`;
}

/** The pgBackRest settings of the container (stanza = the stack's prefix, so one off-host repository can hold several stacks). */
export function pgbackrestEnv(input: { prefix: string; dbUser: string; wal: WalSettings }): string[] {
  return [
    `${STANZA_ENV}=${input.prefix}`,
    `PGBACKREST_PG1_PATH=${PGDATA}`,
    // the socket connection pgBackRest opens for backups and checks: the stack's superuser, trusted on the socket
    `PGBACKREST_PG1_USER=${input.dbUser}`,
    `PGBACKREST_REPO1_PATH=${WAL_REPO_PATH}`,
    `PGBACKREST_REPO1_RETENTION_FULL=${input.wal.keepFull}`,
    // the container log is where an operator looks; no log files to rotate inside the container
    "PGBACKREST_LOG_LEVEL_FILE=off",
    "PGBACKREST_LOG_LEVEL_CONSOLE=warn",
    // a base backup starts with an immediate checkpoint instead of waiting for the next one
    "PGBACKREST_START_FAST=y",
  ];
}

/** The server's command line: archiving on, every segment pushed by pgBackRest, at most archiveTimeoutSeconds unarchived. */
export function archivingCommand(wal: WalSettings): string[] {
  return [
    "postgres",
    ...["-c", "archive_mode=on"],
    ...["-c", "archive_command=pgbackrest archive-push %p"],
    ...["-c", `archive_timeout=${wal.archiveTimeoutSeconds}`],
  ];
}

/** `pgbackrest …` as the container's postgres user (docker exec -u). */
export function pgbackrest(args: string[]): string[] {
  return ["pgbackrest", ...args];
}

/** The base backup taken before every deploy: differential (pgBackRest makes it a full one when none exists yet). */
export const BASE_BACKUP_ARGS = ["backup", "--type=diff"];
