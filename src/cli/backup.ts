// `npm run backup` — take a verified backup of a stack's database now, then apply retention; with monitoring on,
// push its figures to the stack's Pushgateway (what the BackupTooOld alert reads).
// Prints the backup's path on stdout (progress goes to stderr), so scripts and the Pulumi
// pre-deploy command can capture it.
import { BACKUP_DEFAULTS, LOCK_DEFAULTS } from "../../stacks/schema";
import { connectDocker } from "../docker";
import { stackOfContainer, withStackLock } from "../docker/stack-lock";
import { backup } from "../backup/backup";
import { reportBackupMetrics } from "../backup/metrics";
import { stackTarget } from "../release/target";
import { BACKUP_VERB } from "../backup/verb";
import { intFlag, runVerb, stringFlag, UsageError } from "./args";
import { serviceLabels, withDbClient } from "../swarm/db-client";
import { ROLE_PASSWORD_ENV } from "../postgres/roles";
import { LABEL_STACK } from "../vocabulary";

function ownerPasswordFromEnv(): string {
  const password = process.env[ROLE_PASSWORD_ENV.owner];
  if (!password) throw new UsageError(`--overlay: the owner role's password must be in $${ROLE_PASSWORD_ENV.owner}`);
  return password;
}

void runVerb(BACKUP_VERB, async (values) => {
  const stack = stringFlag(values, "stack")!;
  const explicit = stringFlag(values, "db-container");
  // Without --db-container, --stack is a Pulumi stack: read its container, engine and settings from it.
  const target = explicit ? undefined : await stackTarget(stack);
  const settings = target?.backup;
  const dir = stringFlag(values, "dir") ?? settings?.dir;
  if (!dir) throw new UsageError(`missing --dir <path> (stack "${stack}" sets no backup.dir)`);
  const maxAgeDays = values["max-age-days"] === undefined ? settings?.maxAgeDays : intFlag(values, "max-age-days", 0, 1);
  const docker = connectDocker(target?.dockerHost);
  const prefix = target?.prefix ?? stack;
  const verify = values.verify === true || settings?.verify === true;
  const dbContainer = explicit ?? target!.dbContainer;
  const log = (line: string) => console.error(line);
  // Target swarm: the database is a service; its tools run in a client container on the manager (src/swarm/db-client.ts).
  const overlay = stringFlag(values, "overlay");
  if (overlay && !explicit) throw new UsageError("--overlay goes with --db-container (a swarm stack named by --stack brings its own)");
  const swarm = target?.swarm ?? (overlay ? { network: overlay, ownerPassword: ownerPasswordFromEnv() } : undefined);
  // The stack's lock (its database container's or service's slipway.stack label): never beside a deploy or a restore.
  const lockPrefix = (swarm ? (await serviceLabels(docker, dbContainer))?.[LABEL_STACK] : await stackOfContainer(docker, dbContainer)) ?? target?.prefix;
  const locked = <T>(body: () => Promise<T>) =>
    lockPrefix === undefined ? body() : withStackLock(docker, { prefix: lockPrefix, holder: "backup", waitMs: intFlag(values, "stack-lock-wait", LOCK_DEFAULTS.waitSeconds) * 1000, log }, body);
  const take = (container: string) => backup({
    prefix,
    dbContainer: container,
    dir,
    keep: intFlag(values, "keep", settings?.keep ?? BACKUP_DEFAULTS.keep, 1),
    keepWeeks: intFlag(values, "keep-weeks", settings?.keepWeeks ?? BACKUP_DEFAULTS.keepWeeks, 0),
    ...(maxAgeDays === undefined ? {} : { maxAgeDays }),
    verify,
    copyTo: stringFlag(values, "copy-to") ?? settings?.copyTo,
    imageTag: stringFlag(values, "image-tag"),
    database: stringFlag(values, "database"),
    user: stringFlag(values, "user"),
    docker,
    log,
  });
  const result = await locked(() =>
    swarm ? withDbClient(docker, { prefix, service: dbContainer, network: swarm.network, password: swarm.ownerPassword }, { log }, (client) => take(client.name)) : take(dbContainer),
  );
  await reportBackupMetrics({
    docker,
    pushgateway: stringFlag(values, "pushgateway") ?? target?.pushgateway,
    stack: prefix,
    figures: { finishedAt: new Date(), bytes: result.bytes, verified: result.verification !== undefined },
    log: (line) => console.error(line),
  });
  console.log(result.file);
});
