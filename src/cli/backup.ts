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
  // The stack's lock (its database container's slipway.stack label): never beside a deploy or a restore.
  const lockPrefix = (await stackOfContainer(docker, dbContainer)) ?? target?.prefix;
  const locked = <T>(body: () => Promise<T>) =>
    lockPrefix === undefined ? body() : withStackLock(docker, { prefix: lockPrefix, holder: "backup", waitMs: intFlag(values, "stack-lock-wait", LOCK_DEFAULTS.waitSeconds) * 1000, log }, body);
  const result = await locked(() => backup({
    prefix,
    dbContainer,
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
  }));
  await reportBackupMetrics({
    docker,
    pushgateway: stringFlag(values, "pushgateway") ?? target?.pushgateway,
    stack: prefix,
    figures: { finishedAt: new Date(), bytes: result.bytes, verified: result.verification !== undefined },
    log: (line) => console.error(line),
  });
  console.log(result.file);
});
