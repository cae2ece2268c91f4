// restore(): put a backup back into a stack's running database container, all or nothing.
// Before anything touches the database it refuses — with the reason and what to do — a missing
// file, a missing or mismatching checksum, an archive pg_restore cannot read to the end, a dump of
// another stack (unless force), a production restore nobody confirmed, and — in production, unless
// forced — a dump never proven by a restore (no ok <dump>.verified.json for these bytes; elsewhere a
// warning). Then one pg_restore --single-transaction --exit-on-error: any error rolls the whole
// restore back.
import type Docker from "dockerode";
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { checksumFileName, parseChecksumFile } from "./checksum";
import { pgRestore } from "./commands";
import { resolveDatabase } from "./database";
import { connectDocker } from "../docker";
import { execInDb } from "./db-exec";
import { OpsError } from "./errors";
import { sha256File } from "./hash";
import { PARTIAL_SUFFIX, parseBackupFileName, prefixProblem, VERIFIED_SUFFIX } from "./names";
import { confirmationNeeded, prefixMismatchProblem, verificationDecision } from "./restore-policy";
import { verificationState } from "./verification";
import { verifyArchive } from "./verify";

export interface RestoreOptions {
  /** what this stack's backups are filed under: its Docker name prefix (slipway-<stack>), or any name (see names.ts) */
  prefix: string;
  dbContainer: string;
  file: string;
  /** production: skip the confirmation question */
  yes?: boolean;
  /** restore a dump whose name says it belongs to another prefix (or to none), or, in production, one never verified */
  force?: boolean;
  database?: string;
  user?: string;
  /**
   * The database is production data: from the stack's `environment` (output or config), or from what the
   * operator states (--environment). Never guessed from a name.
   */
  production: boolean;
  /** whether `confirm` can ask a person; without it production needs `yes` */
  isTTY?: boolean;
  /** asks the operator; resolves true to go ahead */
  confirm?: (question: string) => Promise<boolean>;
  docker?: Docker;
  log?: (line: string) => void;
}

export interface RestoreResult {
  file: string;
  prefix: string;
  database: string;
  dbContainer: string;
}

export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const problem = prefixProblem(opts.prefix);
  if (problem) throw new OpsError("invalid-input", problem);
  const log = opts.log ?? (() => undefined);
  const file = path.resolve(opts.file);
  const confirmation = confirmationNeeded({ production: opts.production, yes: !!opts.yes, isTTY: !!opts.isTTY && !!opts.confirm });
  if (confirmation === "refuse") {
    throw new OpsError("needs-confirmation", `stack '${opts.prefix}' is production and there is no terminal to confirm on; pass --yes to restore ${file} without asking`);
  }

  const sha256 = await verifyChecksum(file);
  const dumpPrefix = parseBackupFileName(path.basename(file))?.prefix;
  const mismatch = prefixMismatchProblem({ dumpPrefix, prefix: opts.prefix, force: !!opts.force });
  if (mismatch) throw new OpsError("other-stack", `refusing to restore ${file}: ${mismatch}`);
  const recordText = await fs.readFile(file + VERIFIED_SUFFIX, "utf8").catch(() => undefined);
  const verification = verificationDecision({ state: verificationState(recordText, path.basename(file), sha256), production: opts.production, force: !!opts.force });
  if (verification.refuse) throw new OpsError("unverified", `refusing to restore ${file} into production stack '${opts.prefix}': ${verification.refuse}`);
  if (verification.warn) log(verification.warn);

  const docker = opts.docker ?? connectDocker();
  const db = await resolveDatabase(docker, opts.dbContainer, opts);
  log(`reading ${file} back in full with pg_restore in container '${opts.dbContainer}'`);
  await verifyArchive(docker, opts.dbContainer, file);

  if (confirmation === "ask") {
    const question = `Restore ${path.basename(file)} into database '${db.database}' of stack '${opts.prefix}' (container '${opts.dbContainer}')? Its current data will be replaced. Type the stack name to continue: `;
    if (!(await opts.confirm!(question))) {
      throw new OpsError("not-confirmed", `restore of stack '${opts.prefix}' not confirmed; nothing was changed`);
    }
  }

  log(`restoring into database '${db.database}' in one transaction`);
  const result = await execInDb(docker, opts.dbContainer, pgRestore(db), { stdin: createReadStream(file) });
  if (result.exitCode !== 0) {
    throw new OpsError(
      "restore-failed",
      `pg_restore into database '${db.database}' (container '${opts.dbContainer}') failed and was rolled back, so the data is as it was: ${result.stderr.trim() || `exit ${result.exitCode}`}`,
    );
  }
  return { file, prefix: opts.prefix, database: db.database, dbContainer: opts.dbContainer };
}

/** Checks `file` against its .sha256 and returns the digest. */
async function verifyChecksum(file: string): Promise<string> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) {
    throw new OpsError("missing-file", `backup file ${file} does not exist; list the backup directory and pass an existing <stack>-<timestamp>-<tag>.dump as --file`);
  }
  if (file.endsWith(PARTIAL_SUFFIX)) {
    throw new OpsError("unfinished-backup", `${file} is an unfinished backup (interrupted, or still being written: only verified dumps lose .partial); restore a finished .dump`);
  }
  const sumFile = checksumFileName(file);
  const text = await fs.readFile(sumFile, "utf8").catch(() => undefined);
  if (text === undefined) {
    throw new OpsError("missing-checksum", `checksum file ${sumFile} is missing, so ${file} cannot be shown to be intact; restore a backup that has its .sha256 beside it`);
  }
  const expected = parseChecksumFile(text);
  if (!expected) throw new OpsError("missing-checksum", `checksum file ${sumFile} is not in 'sha256sum' format; restore a backup with an intact .sha256`);
  if (expected.fileName !== path.basename(file)) {
    throw new OpsError("checksum-mismatch", `checksum file ${sumFile} vouches for '${expected.fileName}', not '${path.basename(file)}' (renamed?); restore the file under its original name`);
  }
  const actual = await sha256File(file);
  if (actual !== expected.sha256) {
    throw new OpsError("checksum-mismatch", `${file} does not match its checksum (expected ${expected.sha256}, got ${actual}): the file changed since the backup was taken; use another backup`);
  }
  return actual;
}
