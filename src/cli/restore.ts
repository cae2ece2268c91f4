// `npm run restore` — restore a backup into a stack's running database, all or nothing, after
// checking the file (exists, checksum, readable to the end, right stack, proven by a restore) and, on
// production, asking the operator to type the stack name (or --yes), then taking a safety dump of the data it
// replaces. Production is what the database container's slipway.environment label and its stack say (--environment
// only for a database that belongs to no stack, and refused when it contradicts them), never guessed from a name.
// Each refusal has its own override (--allow-other-stack, --allow-unverified); --force is refused with that list.
// --from fetches the backup from its off-host copy (rclone) first. For a database in a deployed stack it drives
// maintenance mode at the stack's edge and runs the running API image's migrations (src/restore/restore.ts).
// --to-time T / --to-latest restore a stack that archives its WAL (backup.wal) to a moment, from its pgBackRest
// repository, around the same maintenance and migrations (src/restore/pitr.ts). On a swarm stack the dump restore runs
// through the manager (a client container as the owner role; src/swarm/restore-site.ts for the edge and migrations).
import * as readline from "node:readline/promises";
import { connectDocker } from "../docker";
import { fetchBackup, resolveFrom } from "../backup/offhost";
import { DEFAULT_LOCK_TIMEOUT_MS } from "../postgres/commands";
import { restore } from "../restore/restore";
import { RESTORE_MAINTENANCE_MESSAGE } from "../restore/frame";
import { DEFAULT_RECOVERY_TIMEOUT_MS, pointInTimeRestore } from "../restore/pitr";
import { parseTargetTime, type RecoveryTarget } from "../restore/pitr-plan";
import { relayImageOf, stackTarget, swarmRefusal } from "../release/target";
import { selectStack, stackFileEnvironment } from "../release/stack";
import { ENVIRONMENTS, type Environment, forceRefusal, RESTORE_OVERRIDES } from "../restore/policy";
import { resolveEnvironment } from "../restore/environment";
import { LOCK_DEFAULTS } from "../../stacks/schema";
import { stackOfContainer, withStackLock } from "../docker/stack-lock";
import { serviceLabels, withDbClient } from "../swarm/db-client";
import { swarmSite } from "../swarm/restore-site";
import { swarmEdgeTarget } from "../swarm/spec";
import { LABEL_STACK } from "../vocabulary";
import { intFlag, runVerb, stringFlag, UsageError, VerbSpec } from "./args";

const spec: VerbSpec = {
  name: "restore",
  summary: "Restore a backup made by `npm run backup` into a stack's running PostgreSQL container, in one transaction; or, with backup.wal, the database as it was at a moment (--to-time, --to-latest).",
  flags: {
    stack: { type: "string", value: "<stack>", description: "Pulumi stack whose database is replaced; with --db-container: the name its backups are filed under", required: true },
    "db-container": { type: "string", value: "<name>", description: "PostgreSQL container (default: the stack's dbContainer output)" },
    environment: { type: "string", value: "<env>", description: "production or staging: only for a --db-container whose label and stack say neither; refused when it contradicts them" },
    file: { type: "string", value: "<path>", description: "the .dump file (its .sha256 must be beside it); or --from" },
    from: { type: "string", value: "<remote>", description: "fetch the backup with rclone first: a remote path (sftp:backups/slipway/<name>.dump) or, with a stack, a file name in its backup.copyTo" },
    dir: { type: "string", value: "<path>", description: "private directory for the safety dump of the current data (and, with --from, to fetch into); default: the stack's backup.dir, else the --file's directory" },
    "to-time": { type: "string", value: "<ISO time>", description: "backup.wal: the database as it was at this moment, with its zone (2026-12-05T14:03:00Z): every transaction committed by then, none after" },
    "to-latest": { type: "boolean", description: "backup.wal: the database up to the last archived WAL (after losing its data, or to undo nothing but a crash)" },
    "recovery-timeout": { type: "string", value: "<ms>", description: `with --to-time/--to-latest: how long PostgreSQL may replay WAL before the restore counts as failed (default ${DEFAULT_RECOVERY_TIMEOUT_MS})` },
    yes: { type: "boolean", description: "do not ask for confirmation on production (required without a terminal)" },
    "allow-other-stack": { type: "boolean", description: RESTORE_OVERRIDES["allow-other-stack"] },
    "allow-unverified": { type: "boolean", description: RESTORE_OVERRIDES["allow-unverified"] },
    force: { type: "boolean", description: "refused: name the check you override (--allow-other-stack, --allow-unverified)" },
    database: { type: "string", value: "<db>", description: "database name (default: the container's POSTGRES_DB)" },
    user: { type: "string", value: "<role>", description: "role to restore as (default: the container's POSTGRES_USER)" },
    "no-maintenance": { type: "boolean", description: "leave the edge alone: clients keep reaching the API during the restore" },
    "maintenance-message": { type: "string", value: "<text>", description: `what clients get with the 503 meanwhile (default: "${RESTORE_MAINTENANCE_MESSAGE}")` },
    "no-migrate": { type: "boolean", description: "do not run the running API image's migrations after the restore" },
    "lock-timeout": { type: "string", value: "<ms>", description: `give up (changing nothing) when a lock on the existing data is not granted within ms (default ${DEFAULT_LOCK_TIMEOUT_MS})` },
    "stack-lock-wait": { type: "string", value: "<s>", description: `while a deploy (or another verb) holds the stack's lock on its Docker host, wait up to s seconds, then refuse naming the holder (default ${LOCK_DEFAULTS.waitSeconds}; 0: refuse at once)` },
  },
  notes: [
    "Production or not: the database container's slipway.environment label, and its stack (the stack's environment",
    "output or config; with --db-container, the stack file its slipway.stack label names). --environment is needed only",
    "when none of them says, and an --environment that contradicts them is refused, naming both.",
    "Refuses, changing nothing, for a missing file, a checksum mismatch, a truncated or corrupt dump,",
    "another stack's dump (without --allow-other-stack) and production without confirmation. A dump without an ok",
    "<dump>.verified.json for its bytes (npm run backup -- --verify) is refused in production without",
    "--allow-unverified, and restored with a warning elsewhere. Each override bypasses its own check only.",
    "--from fetches <name>.dump, .dump.sha256 and (if there) .dump.verified.json into --dir (0600 files, 0700 dir),",
    "checks the checksum (a damaged copy is refused and not kept), then restores it like a local file.",
    "Steps, each logged, for a database in a deployed stack (its container's slipway.stack label): maintenance ON",
    "at the stack's edge (503 + Retry-After; skipped with --no-maintenance, without a running edge, or left as it",
    "is when already on) → a safety dump of the current data into --dir (<prefix>-<time>-pre-restore.dump, read back",
    "in full and checksummed like any backup, kept, its path logged; if it fails nothing is dropped) → the restore: ONE transaction that drops every schema of the database (tables added",
    "after the dump too) and recreates them from the dump, waiting at most --lock-timeout for each lock → the",
    "running API image's migrations in a one-off container on the database's network (as the deploy runs them;",
    "--no-migrate skips) → maintenance off, only if restore turned it on.",
    "A failed restore changes nothing and turns maintenance off again (if restore turned it on); failed migrations",
    "leave the restored data and maintenance ON. The last line on stderr says what state the edge is in.",
    "Ctrl-C during the restore ends its database session (application_name slipway-restore): rolled back, as a failure.",
    "--to-time T / --to-latest (a stack with backup.wal.enabled): refuses, changing nothing, a database that does not",
    "archive its WAL, a repository without a base backup, a time outside the recovery window (the message names it:",
    "from the end of the oldest kept base backup to now) and production without confirmation. Then: maintenance ON →",
    "pgbackrest check (the current WAL segment archived; a failing archive stops here, nothing changed) → the",
    "database container stopped → pgbackrest restore --delta in a one-off container on its volumes → the container",
    "started: PostgreSQL replays the WAL to T (or to the end) and promotes → migrations → maintenance off.",
    "--to-latest with the database container gone (and its data volume): the volume is created again and restored from",
    "the WAL repository volume <prefix>-pgwal, then `pulumi up --refresh` of the stack creates the container on it;",
    "what was not archived yet (at most backup.wal.archiveTimeoutSeconds of writes) is lost. With backup.wal.offHost",
    "and <prefix>-pgwal gone too: from the off-host repository alone (over SFTP, with slipway:walSftpKey), the local",
    "repository volume created again empty (the deploy step of the refresh gives it its stanza and a base backup).",
    "It holds the stack's lock on the Docker host (<prefix>-lock) from before its checks to the end: a deploy running",
    "(its migrations, its edge handover) is waited for (--stack-lock-wait, then refused naming the holder), and a",
    "deploy started meanwhile waits for the restore.",
    "Target swarm (a --stack with slipway:target swarm; --file or --from): the same checks and steps through the manager",
    "only. The read-through, the safety dump and the restore run in <prefix>-db-client-<random>, a container on the",
    "manager on the backend overlay, logged in as the owner role (it owns every object: it may replace the schemas; its",
    "password a 0400 file, never in env or inspect; removed however it ends); maintenance is set at every edge task",
    "through a relay on the control overlay, and the serving release's migrations run as a one-off Swarm task",
    "(<prefix>-restore-migrate-<run>) as the deploy runs them. --to-time/--to-latest are refused there (backup.wal is).",
    "Docker: the stack's dockerHost when --stack names a Pulumi stack, else DOCKER_HOST like the docker CLI.",
  ],
};

void runVerb(spec, async (values) => {
  const explicit = stringFlag(values, "db-container");
  const environment = stringFlag(values, "environment");
  const fileFlag = stringFlag(values, "file");
  const from = stringFlag(values, "from");
  const toTime = stringFlag(values, "to-time");
  const toLatest = values["to-latest"] === true;
  if ([fileFlag, from, toTime, toLatest ? true : undefined].filter((v) => v !== undefined).length !== 1) {
    throw new UsageError("give exactly one of --file <path>, --from <remote>, --to-time <ISO time> and --to-latest");
  }
  let pitrTarget: RecoveryTarget | undefined;
  if (toTime !== undefined) {
    const time = parseTargetTime(toTime);
    if ("problem" in time) throw new UsageError(time.problem);
    pitrTarget = { kind: "time", time };
  } else if (toLatest) pitrTarget = { kind: "latest" };
  if (values.force === true) throw new UsageError(forceRefusal());
  if (environment !== undefined && !(ENVIRONMENTS as readonly string[]).includes(environment)) throw new UsageError(`--environment must be production or staging, got '${environment}'`);
  // Without --db-container, --stack is a Pulumi stack: read its container, engine and environment from it.
  const target = explicit ? undefined : await stackTarget(stringFlag(values, "stack")!);
  // Target swarm: a dump restore through the manager (src/swarm/restore-site.ts); point-in-time needs backup.wal, which swarm refuses.
  if (target?.swarm && pitrTarget) throw swarmRefusal(stringFlag(values, "stack")!, "a point-in-time restore (--to-time, --to-latest: backup.wal)");
  const dbContainer = explicit ?? target!.dbContainer;
  const docker = connectDocker(target?.dockerHost);
  // The environment comes from the database container and its stack, not from the operator's word.
  const decided = await resolveEnvironment({
    docker,
    dbContainer,
    stated: environment as Environment | undefined,
    stackFile: stackFileEnvironment,
    ...(target ? { stack: { name: stringFlag(values, "stack")!, production: target.production } } : {}),
  });
  if ("refuse" in decided) throw new UsageError(decided.refuse);
  const log = (line: string) => console.error(line);
  const confirm = async (question: string) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    try {
      return (await rl.question(question)).trim() === (target?.prefix ?? stringFlag(values, "stack")!);
    } finally {
      rl.close();
    }
  };
  // What both restores take alike: the stack's database, who confirms, and the frame around the data change.
  const common = {
    prefix: target?.prefix ?? stringFlag(values, "stack")!,
    dbContainer,
    production: decided.environment === "production",
    yes: values.yes === true,
    stackName: stringFlag(values, "stack")!,
    deployedImage: target?.image,
    maintenance: values["no-maintenance"] !== true,
    maintenanceMessage: stringFlag(values, "maintenance-message"),
    migrate: values["no-migrate"] !== true,
    docker,
    isTTY: !!process.stdin.isTTY && !!process.stderr.isTTY,
    confirm,
    log,
  };
  // The stack's lock (the database container's slipway.stack label, else the stack read): never beside a deploy.
  const swarm = target?.swarm;
  const lockPrefix = (swarm ? (await serviceLabels(docker, dbContainer))?.[LABEL_STACK] : await stackOfContainer(docker, dbContainer)) ?? target?.prefix;
  const waitMs = intFlag(values, "stack-lock-wait", LOCK_DEFAULTS.waitSeconds) * 1000;
  const locked = <T>(body: () => Promise<T>) => (lockPrefix === undefined ? body() : withStackLock(docker, { prefix: lockPrefix, holder: "restore", waitMs, log }, body));
  if (pitrTarget) {
    // A stack that archives can be rebuilt from its repository when its database container is gone.
    const declared = target?.database;
    const wal = target?.backup?.wal;
    const rebuild =
      declared && wal?.enabled
        ? {
          image: declared.image,
          user: declared.user,
          database: declared.name,
          wal,
          ...(target?.walSftpKey ? { offHostKey: target.walSftpKey } : {}),
          recreate: async (say: (line: string) => void) => {
            const stack = await selectStack(stringFlag(values, "stack")!);
            await stack.up({ refresh: true, message: "restore --to-latest: the database container created again on its restored volume", onOutput: (s) => say(s.trimEnd()), color: "never" });
          },
        }
        : undefined;
    const recoveryTimeoutMs = intFlag(values, "recovery-timeout", DEFAULT_RECOVERY_TIMEOUT_MS, 1000);
    const result = await locked(() => pointInTimeRestore({ ...common, ...(rebuild ? { rebuild } : {}), target: pitrTarget, recoveryTimeoutMs }));
    console.log(`restored database '${result.database}' of stack '${stringFlag(values, "stack")!}' to ${result.target}; ${result.edge}`);
    return;
  }
  let file = fileFlag;
  const dir = stringFlag(values, "dir") ?? target?.backup?.dir;
  if (from !== undefined) {
    if (!dir) throw new UsageError("with --from, pass --dir <path>: the local directory to fetch the backup into");
    file = await fetchBackup({ from: resolveFrom(from, target?.backup?.copyTo), dir, log });
  }
  const lockTimeoutMs = intFlag(values, "lock-timeout", DEFAULT_LOCK_TIMEOUT_MS, 1);
  const dumpRestore = { ...common, file: file!, allowOtherStack: values["allow-other-stack"] === true, allowUnverified: values["allow-unverified"] === true, ...(dir ? { safetyDumpDir: dir } : {}), lockTimeoutMs };
  const result = await locked(() => {
    if (!swarm) return restore({ ...dumpRestore, database: stringFlag(values, "database"), user: stringFlag(values, "user") });
    // Target swarm: the tools run in a client container on the manager, as the owner role; the edge and the
    // migrations are the swarm's (src/swarm/restore-site.ts).
    if (stringFlag(values, "database") !== undefined || stringFlag(values, "user") !== undefined) throw new UsageError("--database and --user are for one host: on a swarm the restore logs in as the owner role into the stack's database");
    const relayImage = relayImageOf(stringFlag(values, "stack")!, swarm.relayImage);
    const prefix = target!.prefix;
    return withDbClient(docker, { prefix, service: dbContainer, network: swarm.network, password: swarm.ownerPassword }, { log, run: "restore" }, (client) =>
      restore({
        ...dumpRestore,
        dbContainer: client.name,
        site: swarmSite(docker, { prefix, edge: swarmEdgeTarget(prefix, relayImage), ...(swarm.apiService ? { apiService: swarm.apiService } : {}), network: swarm.network, database: client.db.database, ownerPassword: swarm.ownerPassword, taskTimeoutMs: swarm.taskTimeoutMs }),
      }));
  });
  console.log(`restored ${result.file} into database '${result.database}' of stack '${result.prefix}'; the data it replaced is in ${result.safetyDump}; ${result.edge}`);
});
