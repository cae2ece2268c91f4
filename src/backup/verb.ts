// The `npm run backup` verb, declared once: its flags, help and notes. src/cli/backup.ts parses them; the Pulumi
// program's pre-deploy step (infra/components/deploy-steps.ts) runs the verb as a command line built from the same
// declaration (backupVerb), so a flag cannot exist in one place and not the other.
import { BACKUP_DEFAULTS, LOCK_DEFAULTS } from "../../stacks/schema";
import { type FlagValues, verbCommand, type VerbSpec } from "../vocabulary/verbs";
import { DB_ROLES } from "../vocabulary/database";
import { ROLE_PASSWORD_ENV } from "../postgres/roles";

export const BACKUP_VERB = {
  name: "backup",
  summary: "Dump a stack's PostgreSQL database (pg_dump -Fc) into a private directory, verified and checksummed.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "Pulumi stack (staging, production); with --db-container: any name to file the backups under", required: true },
    "db-container": { type: "string", value: "<name>", description: "PostgreSQL container, or with --overlay the database's Swarm service (default: the stack's dbContainer output)" },
    overlay: { type: "string", value: "<network>", description: `target swarm with --db-container: the attachable overlay the database service is on; the tools run in a client container on the manager there, as ${DB_ROLES.owner} (password in $${ROLE_PASSWORD_ENV.owner}) (default: the stack's, for a swarm stack)` },
    dir: { type: "string", value: "<path>", description: "directory on this machine for backups (default: the stack's backup.dir); created 0700" },
    keep: { type: "string", value: "<n>", description: `keep the n newest backups of this stack, delete older ones (default: the stack's backup.keep, else ${BACKUP_DEFAULTS.keep})` },
    "keep-weeks": { type: "string", value: "<m>", description: `also keep the newest backup of each of the last m weeks (default: the stack's backup.keepWeeks, else ${BACKUP_DEFAULTS.keepWeeks}); the newest verified backup is always kept` },
    "max-age-days": { type: "string", value: "<n>", description: "also delete backups of this stack taken more than n days ago (default: the stack's backup.maxAgeDays, else no age limit)" },
    verify: { type: "boolean", description: "prove the dump: restore it into a throwaway PostgreSQL (the database's image) and compare every table's rows (default: the stack's backup.verify)" },
    "copy-to": { type: "string", value: "<remote>", description: "copy the backup (dump, record, checksum) there with rclone, e.g. sftp:backups/slipway (default: the stack's backup.copyTo)" },
    "image-tag": { type: "string", value: "<tag>", description: "API image tag running against this data (default 'untagged')" },
    pushgateway: { type: "string", value: "<container>", description: "Pushgateway container to push slipway_backup_* to afterwards (default: the stack's pushgatewayContainer output, set with monitoring on)" },
    database: { type: "string", value: "<db>", description: "database name (default: the container's POSTGRES_DB)" },
    user: { type: "string", value: "<role>", description: "role to dump as (default: the container's POSTGRES_USER)" },
    "stack-lock-wait": { type: "string", value: "<s>", description: `while a deploy (or another verb) holds the stack's lock on its Docker host, wait up to s seconds, then refuse naming the holder (default ${LOCK_DEFAULTS.waitSeconds}; 0: refuse at once)` },
  },
  notes: [
    "Writes <dir>/<prefix>-<YYYYMMDDTHHMMSSZ>-<tag>.dump and .dump.sha256 (mode 0600); <prefix> is the stack's Docker",
    "name prefix (slipway-<stack>), or --stack as given with --db-container. <dir> must not be open to other users.",
    "A failed or interrupted run leaves at most a .partial file, never a .dump; the next backup removes this",
    "stack's .partial files nobody has written for 10 minutes (a running backup touches its own every 30 s).",
    "With --verify, rows are counted in pg_dump's own snapshot; the dump is restored (the restore verb's command)",
    "into a container slipway-backup-verify-<random> (label slipway.role=backup-verify, no network, removed",
    "afterwards) and the result written to <dump>.verified.json. A failed verification fails the backup (exit 1),",
    "keeps the dump and its record, and deletes no older backup.",
    "With --copy-to, rclone (on this machine, with this environment: rclone's config or RCLONE_CONFIG_<NAME>_*)",
    "copies the dump, its record and then its checksum there; if that fails, the backup fails (the local one stays)",
    "and no older backup is deleted. Nothing is ever deleted on the remote.",
    "Then, with a Pushgateway (monitoring on), slipway_backup_last_success_timestamp_seconds, _last_size_bytes and",
    "_last_verified are pushed under job=\"slipway_backup\", stack=<prefix>, by `docker exec <pushgateway> wget`",
    "(so a remote engine works too); without one, or if the push fails, one line says so and the backup still succeeds.",
    "It holds the stack's lock on the Docker host (<prefix>-lock) while it runs: it waits for a deploy or a restore",
    "to finish (--stack-lock-wait), and the pre-deploy backup a deploy runs goes ahead inside the deploy's lock.",
    "Docker: the stack's dockerHost when --stack names a Pulumi stack, else DOCKER_HOST like the docker CLI.",
    "Target swarm: PostgreSQL is a service on the node labelled for it; the tools run in <prefix>-db-client-<random>, a container",
    `on the manager dockerHost names, of the database service's image, on the stack's backend overlay, logged in as ${DB_ROLES.owner} (it owns`,
    "every object of the database) with a password file; removed afterwards. The verification's throwaway runs on the manager too.",
    "The manager must hold that image (docker pull it there once): a backup refuses, saying so, when it does not.",
  ],
} as const satisfies VerbSpec;

/** The flags of `npm run backup` the pre-deploy command passes, one camel-cased field per flag. */
export type BackupVerbFlags = FlagValues<typeof BACKUP_VERB.flags>;

/**
 * The `npm run backup` verb as argv, run from the repository root — what the Pulumi program's
 * pre-deploy `command.local.Command` executes (joined with shellJoin, since `create` is a shell string).
 */
export function backupVerb(flags: BackupVerbFlags): string[] {
  return verbCommand(BACKUP_VERB, flags);
}
