// Continuous WAL archiving with pgBackRest (backup.wal): the one description of how a stack's database container
// archives and where its repository is, shared by the program (infra/components/database.ts declares it,
// deploy-steps.ts takes the base backups) and the point-in-time restore (src/restore/pitr.ts reads it back from
// the container). pgBackRest is configured through PGBACKREST_* environment variables only — no file to keep in
// step — so `archive_command`, a `docker exec … pgbackrest` and a one-off restore container all see the same
// settings. The repository is a second volume (`<prefix>-pgwal`) beside the data volume: losing the data volume
// loses at most the WAL not yet archived (archive_timeout).
import type { WalOffHost, WalSettings } from "../../stacks/schema";

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
    ...(input.wal.offHost ? offHostEnv(input.wal.offHost, input.wal.keepFull) : []),
  ];
}

/** Where the off-host repository's private key is in a database container (uploaded before it starts; not in its env). */
export const WAL_SFTP_KEY_FILE = "/run/slipway/wal-sftp.key";
/** …and the server's host key, as a known_hosts line: checked strictly, never trusted on first use. */
export const WAL_SFTP_KNOWN_HOSTS_FILE = "/run/slipway/wal-sftp.known_hosts";
/** The network a database container reaches the off-host repository by (the backend network has no route out). */
export function walEgressNetwork(prefix: string): string {
  return `${prefix}-db-egress`;
}
/** pgBackRest's number of the off-host repository (repo1 is the volume). */
export const OFF_HOST_REPO = 2;

/** repo2: SFTP, its key and known host as files, its own retention. */
function offHostEnv(o: WalOffHost, keepFull: number): string[] {
  const r = `PGBACKREST_REPO${OFF_HOST_REPO}`;
  return [
    `${r}_TYPE=sftp`,
    `${r}_PATH=${o.path}`,
    `${r}_SFTP_HOST=${o.host}`,
    `${r}_SFTP_HOST_PORT=${o.port}`,
    `${r}_SFTP_HOST_USER=${o.user}`,
    `${r}_SFTP_PRIVATE_KEY_FILE=${WAL_SFTP_KEY_FILE}`,
    `${r}_SFTP_KNOWN_HOST=${WAL_SFTP_KNOWN_HOSTS_FILE}`,
    `${r}_SFTP_HOST_KEY_CHECK_TYPE=strict`,
    // required by pgBackRest whatever the check type (the fingerprint's hash, for its messages)
    `${r}_SFTP_HOST_KEY_HASH_TYPE=sha256`,
    `${r}_RETENTION_FULL=${o.keepFull ?? keepFull}`,
  ];
}

/** The known_hosts line for the server (OpenSSH's `[host]:port` form off port 22). */
export function knownHostsLine(o: Pick<WalOffHost, "host" | "port" | "hostKey">): string {
  return `${o.port === 22 ? o.host : `[${o.host}]:${o.port}`} ${o.hostKey}\n`;
}

/** The private key as a file's content: PEM/OpenSSH text ends with a newline or libssh2 refuses it. */
export function sftpKeyFile(key: string): string {
  return `${key.trim()}\n`;
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
/** …and the same into the off-host repository (pgBackRest backs up into one repository per run). */
export const OFF_HOST_BACKUP_ARGS = [...BASE_BACKUP_ARGS, `--repo=${OFF_HOST_REPO}`];
