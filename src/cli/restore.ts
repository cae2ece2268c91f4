// `npm run restore` — restore a backup into a stack's running database, all or nothing, after
// checking the file (exists, checksum, readable to the end, right stack, proven by a restore) and, on
// production, asking the operator to type the stack name (or --yes). Production is the stack's
// `environment` (or, with --db-container, what --environment says), never guessed from a name.
// --from fetches the backup from its off-host copy (rclone) first. For a database in a deployed stack it drives
// maintenance mode at the stack's edge and runs the running API image's migrations (src/restore/restore.ts).
import * as readline from "node:readline/promises";
import { connectDocker } from "../docker";
import { fetchBackup, resolveFrom } from "../backup/offhost";
import { DEFAULT_LOCK_TIMEOUT_MS } from "../postgres/commands";
import { restore, RESTORE_MAINTENANCE_MESSAGE } from "../restore/restore";
import { stackTarget } from "../release/target";
import { intFlag, runVerb, stringFlag, UsageError, VerbSpec } from "./args";

const ENVIRONMENTS = ["production", "staging"];

const spec: VerbSpec = {
  name: "restore",
  summary: "Restore a backup made by `npm run backup` into a stack's running PostgreSQL container, in one transaction.",
  flags: {
    stack: { type: "string", value: "<stack>", description: "Pulumi stack whose database is replaced; with --db-container: the name its backups are filed under", required: true },
    "db-container": { type: "string", value: "<name>", description: "PostgreSQL container (default: the stack's dbContainer output)" },
    environment: { type: "string", value: "<env>", description: "production or staging: required with --db-container (otherwise the stack's environment)" },
    file: { type: "string", value: "<path>", description: "the .dump file (its .sha256 must be beside it); or --from" },
    from: { type: "string", value: "<remote>", description: "fetch the backup with rclone first: a remote path (sftp:backups/slipway/<name>.dump) or, with a stack, a file name in its backup.copyTo" },
    dir: { type: "string", value: "<path>", description: "with --from: the local directory to fetch into (default: the stack's backup.dir)" },
    yes: { type: "boolean", description: "do not ask for confirmation on production (required without a terminal)" },
    force: { type: "boolean", description: "restore even though the file's name says it is another stack's backup, or (production) it was never verified" },
    database: { type: "string", value: "<db>", description: "database name (default: the container's POSTGRES_DB)" },
    user: { type: "string", value: "<role>", description: "role to restore as (default: the container's POSTGRES_USER)" },
    "no-maintenance": { type: "boolean", description: "leave the edge alone: clients keep reaching the API during the restore" },
    "maintenance-message": { type: "string", value: "<text>", description: `what clients get with the 503 meanwhile (default: "${RESTORE_MAINTENANCE_MESSAGE}")` },
    "no-migrate": { type: "boolean", description: "do not run the running API image's migrations after the restore" },
    "lock-timeout": { type: "string", value: "<ms>", description: `give up (changing nothing) when a lock on the existing data is not granted within ms (default ${DEFAULT_LOCK_TIMEOUT_MS})` },
  },
  notes: [
    "Refuses, changing nothing, for a missing file, a checksum mismatch, a truncated or corrupt dump,",
    "another stack's dump (without --force) and production without confirmation. A dump without an ok",
    "<dump>.verified.json for its bytes (npm run backup -- --verify) is refused in production without --force,",
    "and restored with a warning elsewhere.",
    "--from fetches <name>.dump, .dump.sha256 and (if there) .dump.verified.json into --dir (0600 files, 0700 dir),",
    "checks the checksum (a damaged copy is refused and not kept), then restores it like a local file.",
    "Steps, each logged, for a database in a deployed stack (its container's slipway.stack label): maintenance ON",
    "at the stack's edge (503 + Retry-After; skipped with --no-maintenance, without a running edge, or left as it",
    "is when already on) → the restore: ONE transaction that drops every schema of the database (tables added",
    "after the dump too) and recreates them from the dump, waiting at most --lock-timeout for each lock → the",
    "running API image's migrations in a one-off container on the database's network (as the deploy runs them;",
    "--no-migrate skips) → maintenance off, only if restore turned it on.",
    "A failed restore changes nothing and turns maintenance off again (if restore turned it on); failed migrations",
    "leave the restored data and maintenance ON. The last line on stderr says what state the edge is in.",
    "Ctrl-C during the restore ends its database session (application_name slipway-restore): rolled back, as a failure.",
    "Docker: the stack's dockerHost when --stack names a Pulumi stack, else DOCKER_HOST like the docker CLI.",
  ],
};

void runVerb(spec, async (values) => {
  const explicit = stringFlag(values, "db-container");
  const environment = stringFlag(values, "environment");
  const fileFlag = stringFlag(values, "file");
  const from = stringFlag(values, "from");
  if ((fileFlag === undefined) === (from === undefined)) throw new UsageError("give exactly one of --file <path> and --from <remote>");
  if (environment !== undefined && !ENVIRONMENTS.includes(environment)) throw new UsageError(`--environment must be production or staging, got '${environment}'`);
  if (explicit && environment === undefined) {
    throw new UsageError("with --db-container, pass --environment production|staging: restore must know whether it replaces production data, and never guesses it from a name");
  }
  // Without --db-container, --stack is a Pulumi stack: read its container, engine and environment from it.
  const target = explicit ? undefined : await stackTarget(stringFlag(values, "stack")!);
  if (target && environment !== undefined && (environment === "production") !== target.production) {
    throw new UsageError(`--environment ${environment} contradicts stack "${stringFlag(values, "stack")}", whose environment is ${target.production ? "production" : "not production"}; leave --environment out`);
  }
  const log = (line: string) => console.error(line);
  let file = fileFlag;
  if (from !== undefined) {
    const dir = stringFlag(values, "dir") ?? target?.backup?.dir;
    if (!dir) throw new UsageError("with --from, pass --dir <path>: the local directory to fetch the backup into");
    file = await fetchBackup({ from: resolveFrom(from, target?.backup?.copyTo), dir, log });
  }
  const prefix = target?.prefix ?? stringFlag(values, "stack")!;
  const result = await restore({
    prefix,
    dbContainer: explicit ?? target!.dbContainer,
    production: target ? target.production : environment === "production",
    file: file!,
    yes: values.yes === true,
    force: values.force === true,
    stackName: stringFlag(values, "stack")!,
    deployedImage: target?.image,
    maintenance: values["no-maintenance"] !== true,
    maintenanceMessage: stringFlag(values, "maintenance-message"),
    migrate: values["no-migrate"] !== true,
    lockTimeoutMs: intFlag(values, "lock-timeout", DEFAULT_LOCK_TIMEOUT_MS, 1),
    database: stringFlag(values, "database"),
    user: stringFlag(values, "user"),
    docker: connectDocker(target?.dockerHost),
    isTTY: !!process.stdin.isTTY && !!process.stderr.isTTY,
    confirm: async (question) => {
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return (await rl.question(question)).trim() === prefix;
      } finally {
        rl.close();
      }
    },
    log,
  });
  console.log(`restored ${result.file} into database '${result.database}' of stack '${result.prefix}'; ${result.edge}`);
});
