// backup(): dump a stack's database out of its running container into a private directory on the
// machine running this code, so that only a complete, verified dump ever carries a `.dump` name:
//   remove this prefix's stale `.partial` files → pg_dump -Fc → <name>.partial (0600; sha256 computed
//   on the way, and pg_restore reading the stream to its end beside the file: archive-check.ts) → fsync →
//   re-hashed from disk, equal to the stream's → <name>.sha256 →
//   rename to <name> → fsync dir → retention (keep the N newest filed under the same prefix and the newest
//   of each of the last keepWeeks weeks, none older than maxAgeDays, always the newest verified dump).
// With `verify`, the counts of every table's rows are taken in pg_dump's own snapshot, and once the
// dump has its name it is restored into a throwaway PostgreSQL and checked against them
// (verify-by-restore.ts); the result is kept as <name>.verified.json. A failed verification fails
// the backup (the dump and its failed record stay, for the operator; retention does not run).
// With `copyTo`, the finished (and, with `verify`, proven) dump, its record and its checksum are then
// copied off the host with rclone (offhost.ts); retention runs only after that succeeded.
// Any failure (pg_dump error, disk full, killed process) leaves at most a `.partial`, which
// restore and retention never treat as a backup and the next backup removes once it is stale.
// Used by `npm run backup` and by the Pulumi program's pre-deploy command resource.
import type Docker from "dockerode";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { Transform } from "node:stream";
import { BACKUP_DEFAULTS } from "../../stacks/schema";
import { Readable } from "node:stream";
import { checksumFileName, formatChecksumFile, parseChecksumFile } from "./checksum";
import { countedDumpScript, COUNTS_MARKER, DUMP_EXIT_MARKER, parseCounts, pgDump, psqlScript, type Database } from "../postgres/commands";
import { resolveDatabase } from "../postgres/database";
import { sha256File } from "./hash";
import { connectDocker } from "../docker";
import { execInDb } from "../postgres/db-exec";
import { OpsError } from "../postgres/errors";
import { exists, fsyncPath, keepFresh, preparePrivateDir, PRIVATE_FILE_MODE, writeAtomically } from "./files";
import { backupFileName, backupOfFile, CHECKSUM_SUFFIX, companionFileNames, imageTagProblem, PARTIAL_SUFFIX, prefixProblem, VERIFIED_SUFFIX } from "./names";
import { selectForDeletion, selectStalePartials } from "./retention";
import { formatRecord, type VerificationRecord, verificationState } from "./proof-record";
import { checkArchiveWhileWriting } from "./archive-check";
import { verifyByRestore } from "./prove-by-restore";
import { copyOffHost } from "./offhost";

export interface BackupOptions {
  /** what the backup is filed under: the stack's Docker name prefix (slipway-<stack>), or any name (see names.ts) */
  prefix: string;
  dbContainer: string;
  /** directory on this machine; created (0700) if missing, refused if open to other users */
  dir: string;
  /** keep this many newest backups filed under `prefix` (default: stacks/schema.ts BACKUP_DEFAULTS.keep) */
  keep?: number;
  /** and the newest of each of the last this-many weeks (default: stacks/schema.ts BACKUP_DEFAULTS.keepWeeks) */
  keepWeeks?: number;
  /** and delete those taken more than this many days ago (default: no age limit); never the newest verified one */
  maxAgeDays?: number;
  /** prove the dump by restoring it into a throwaway PostgreSQL and comparing row counts (default false) */
  verify?: boolean;
  /**
   * apply retention after the backup (default true). Restore's safety dump passes false: it must not delete the dump
   * being restored, nor be the reason another one goes.
   */
  retention?: boolean;
  /** rclone destination (`remote:path`, or a local path) to copy the backup to (default: none) */
  copyTo?: string;
  /** image tag running (or about to run) against this data; part of the name (default 'untagged') */
  imageTag?: string;
  /** default: the container's POSTGRES_DB */
  database?: string;
  /** default: the container's POSTGRES_USER */
  user?: string;
  now?: Date;
  docker?: Docker;
  log?: (line: string) => void;
}

export interface BackupResult {
  file: string;
  checksumFile: string;
  bytes: number;
  sha256: string;
  /** dump files removed by retention (full paths) */
  deleted: string[];
  /** stale `.partial` files removed before the dump (full paths) */
  removedPartials: string[];
  /** with `verify`: the record written to `verificationFile` (always ok here: a failed one throws) */
  verification?: VerificationRecord;
  verificationFile?: string;
  /** with `copyTo`: the remote paths written (dump, record, checksum) */
  copiedTo?: string[];
}

export async function backup(opts: BackupOptions): Promise<BackupResult> {
  const keep = opts.keep ?? BACKUP_DEFAULTS.keep;
  const imageTag = opts.imageTag ?? "untagged";
  const wholeAtLeastOne = (flag: string, n: number | undefined) => (n === undefined || (Number.isInteger(n) && n >= 1) ? undefined : `--${flag} must be a whole number ≥ 1, got ${n}`);
  const problem = prefixProblem(opts.prefix) ?? imageTagProblem(imageTag) ?? wholeAtLeastOne("keep", keep) ?? wholeAtLeastOne("max-age-days", opts.maxAgeDays);
  if (problem) throw new OpsError("invalid-input", problem);
  const log = opts.log ?? (() => undefined);
  const docker = opts.docker ?? connectDocker();
  const now = opts.now ?? new Date();

  const dir = path.resolve(opts.dir);
  await preparePrivateDir(dir);
  const removedPartials = await removeStalePartials(dir, opts.prefix, log);
  const db = await resolveDatabase(docker, opts.dbContainer, opts);
  const name = backupFileName({ prefix: opts.prefix, takenAt: now, imageTag });
  const file = path.join(dir, name);
  const partial = file + PARTIAL_SUFFIX;
  if (await exists(file)) {
    throw new OpsError("already-exists", `backup ${file} already exists (two backups of stack '${opts.prefix}' in the same second?); wait a second and retry`);
  }

  log(`dumping database '${db.database}' from container '${opts.dbContainer}' to ${partial}`);
  const checksumFile = path.join(dir, checksumFileName(name));
  let dumped: Dumped;
  const stopHeartbeat = keepFresh([partial, checksumFile + PARTIAL_SUFFIX]);
  try {
    dumped = await dumpTo(docker, opts.dbContainer, db, partial, !!opts.verify);
    log(`${dumped.bytes} bytes written, read to the end by pg_restore as they were; checking the file against the stream`);
    const onDisk = await sha256File(partial);
    if (onDisk !== dumped.sha256) {
      throw new OpsError("write-failed", `the file written in ${dir} differs from what pg_dump sent (sha256 ${onDisk} ≠ ${dumped.sha256}); check the disk and retry`);
    }
    await writeAtomically(checksumFile, formatChecksumFile(dumped.sha256, name), PARTIAL_SUFFIX);
    await fs.rename(partial, file);
    await fsyncPath(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EEXIST" && e.path === partial) {
      // another backup of this stack started in the same second owns that .partial: leave it alone
      throw new OpsError("already-exists", `${partial} exists: another backup of stack '${opts.prefix}' is running (a killed run's is removed by the next backup once nobody has written it for 10 minutes) — retry in a second`);
    }
    await fs.rm(partial, { force: true });
    if (!(await exists(file))) await fs.rm(checksumFile, { force: true });
    throw explainWriteError(err, dir);
  } finally {
    await stopHeartbeat();
  }
  log(`backup ready: ${file}`);

  let verified: Pick<BackupResult, "verification" | "verificationFile"> = {};
  if (dumped.counts) verified = await verifyAndRecord({ docker, dbContainer: opts.dbContainer, db, prefix: opts.prefix, file, sha256: dumped.sha256, sourceCounts: dumped.counts, log });

  const copied = opts.copyTo ? { copiedTo: await copyOffHost({ file, copyTo: opts.copyTo, log }) } : {};

  const policy = { keep, keepWeeks: opts.keepWeeks ?? BACKUP_DEFAULTS.keepWeeks, maxAgeDays: opts.maxAgeDays, now };
  const deleted = opts.retention === false ? [] : await applyRetention(dir, opts.prefix, name, policy, log);
  return { file, checksumFile, bytes: dumped.bytes, sha256: dumped.sha256, deleted, removedPartials, ...verified, ...copied };
}

/** Restores the finished dump into a throwaway database, writes <dump>.verified.json (0600), and throws when it failed. */
export async function verifyAndRecord(opts: Parameters<typeof verifyByRestore>[0]): Promise<{ verification: VerificationRecord; verificationFile: string }> {
  const log = opts.log ?? (() => undefined);
  const verificationFile = opts.file + VERIFIED_SUFFIX;
  const stopHeartbeat = keepFresh([verificationFile + PARTIAL_SUFFIX]);
  let verification: VerificationRecord;
  try {
    verification = await verifyByRestore(opts);
    await writeAtomically(verificationFile, formatRecord(verification), PARTIAL_SUFFIX);
  } finally {
    await stopHeartbeat();
  }
  const tables = Object.keys(verification.sourceCounts).length;
  if (!verification.ok) {
    throw new OpsError(
      "verify-failed",
      `verification of ${opts.file} FAILED — ${verification.problems.join("; ")}. The dump is kept beside its record ${verificationFile} (restore refuses it in production without --force); older backups were not deleted`,
    );
  }
  log(`verified: restored into a throwaway database in ${verification.restoreSeconds.toFixed(1)} s, ${tables} table(s) with the same row counts as at dump time → ${path.basename(verificationFile)}`);
  return { verification, verificationFile };
}

interface Dumped {
  bytes: number;
  sha256: string;
  /** rows per table in the dump's snapshot (only for a dump to be verified) */
  counts?: Record<string, number>;
}

/** Deletes this prefix's `.partial` files that no running backup has touched for a while (retention.ts). */
async function removeStalePartials(dir: string, prefix: string, log: (line: string) => void): Promise<string[]> {
  const entries = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.endsWith(PARTIAL_SUFFIX)) continue;
    const stat = await fs.stat(path.join(dir, name)).catch(() => undefined);
    if (stat?.isFile()) entries.push({ name, mtimeMs: stat.mtimeMs });
  }
  const removed: string[] = [];
  for (const name of selectStalePartials(entries, prefix, Date.now())) {
    await fs.rm(path.join(dir, name), { force: true });
    removed.push(path.join(dir, name));
    log(`removed ${name}: a .partial nobody has written for minutes is what a killed or crashed run leaves behind`);
  }
  return removed;
}

/**
 * Deletes this prefix's backups beyond `keep` or older than `maxAgeDays` (never `justTaken`), with their
 * companions, and makes the remaining files of the prefix private (0600) — dumps written before files
 * were created private stay readable by others otherwise.
 */
async function applyRetention(dir: string, prefix: string, justTaken: string, policy: Parameters<typeof selectForDeletion>[2], log: (line: string) => void): Promise<string[]> {
  const names = await fs.readdir(dir);
  const deleted: string[] = [];
  const limits = `keep ${policy.keep}, one a week for ${policy.keepWeeks ?? 0} weeks${policy.maxAgeDays === undefined ? "" : `, at most ${policy.maxAgeDays} days old`}, the newest verified`;
  for (const old of selectForDeletion(names, prefix, { ...policy, verified: await provenDumps(dir, names, prefix) })) {
    if (old === justTaken) continue; // a clock running backwards must not cost us the backup just taken
    await fs.rm(path.join(dir, old), { force: true });
    for (const companion of companionFileNames(old)) await fs.rm(path.join(dir, companion), { force: true });
    deleted.push(path.join(dir, old));
    log(`retention (${limits}): deleted ${old}`);
  }
  for (const name of names) {
    if (backupOfFile(name)?.prefix !== prefix) continue;
    const file = path.join(dir, name);
    const stat = await fs.lstat(file).catch(() => undefined);
    if (stat?.isFile() && (stat.mode & 0o077) !== 0) await fs.chmod(file, PRIVATE_FILE_MODE).catch(() => undefined);
  }
  return deleted;
}

/** This prefix's dumps whose verification record proves exactly their bytes (the checksum file's sha256). */
async function provenDumps(dir: string, names: readonly string[], prefix: string): Promise<Set<string>> {
  const proven = new Set<string>();
  for (const name of names) {
    const of = backupOfFile(name);
    if (of?.prefix !== prefix || of.partial || !name.endsWith(VERIFIED_SUFFIX)) continue;
    const dump = name.slice(0, -VERIFIED_SUFFIX.length);
    const [record, checksum] = await Promise.all([fs.readFile(path.join(dir, name), "utf8").catch(() => undefined), fs.readFile(path.join(dir, dump + CHECKSUM_SUFFIX), "utf8").catch(() => "")]);
    if (verificationState(record, dump, parseChecksumFile(checksum)?.sha256 ?? "").state === "verified") proven.add(dump);
  }
  return proven;
}

async function dumpTo(docker: Docker, container: string, db: Database, partial: string, counted: boolean): Promise<Dumped> {
  const hash = createHash("sha256");
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // "wx": never overwrite — a same-named partial belongs to a backup still running. Opened before
  // the exec, so that refusal comes first; the stream owns (and closes) the handle from here on.
  const out = (await fs.open(partial, "wx", PRIVATE_FILE_MODE)).createWriteStream();
  // pg_restore reads the archive to its end as it is written (archive-check.ts): no second pass over the file.
  const check = checkArchiveWhileWriting(docker, container, partial);
  let result;
  try {
    // counted: psql counts the rows and runs pg_dump in one exported snapshot (commands.ts countedDumpScript)
    result = counted
      ? await execInDb(docker, container, psqlScript(db), { stdin: Readable.from([countedDumpScript(db)]), stdout: [tap, check.tap, out] })
      : await execInDb(docker, container, pgDump(db), { stdout: [tap, check.tap, out] });
  } catch (err) {
    check.abort();
    out.destroy();
    await check.result.catch(() => undefined);
    throw err;
  }
  // The reader has the whole stream; its verdict comes after the dump's own (a failed dump is the reason to report).
  const read = check.result.then(() => undefined, (e: unknown) => e);
  let counts: Record<string, number> | undefined;
  if (counted) {
    const dumpExit = new RegExp(`^${DUMP_EXIT_MARKER}(\\d+)$`, "m").exec(result.stderr)?.[1];
    const stderr = result.stderr
      .split("\n")
      .filter((l) => !l.startsWith(DUMP_EXIT_MARKER) && !l.startsWith(COUNTS_MARKER))
      .join("\n")
      .trim();
    counts = parseCounts(result.stderr);
    if (result.exitCode !== 0 || dumpExit !== "0" || !counts) {
      const what = result.exitCode !== 0 ? `psql exit ${result.exitCode}` : dumpExit === undefined ? "pg_dump did not run" : dumpExit !== "0" ? `exit ${dumpExit}` : "no row counts";
      throw new OpsError("dump-failed", `pg_dump of database '${db.database}' in container '${container}' (rows counted in its snapshot) failed (${what}): ${stderr}`);
    }
  } else if (result.exitCode !== 0) {
    throw new OpsError("dump-failed", `pg_dump of database '${db.database}' in container '${container}' failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  }
  if (bytes === 0) throw new OpsError("dump-failed", `pg_dump in container '${container}' produced no output`);
  const unreadable = await read;
  if (unreadable) throw unreadable;
  await fsyncPath(partial);
  return { bytes, sha256: hash.digest("hex"), ...(counts ? { counts } : {}) };
}

function explainWriteError(err: unknown, dir: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new OpsError("disk-full", `no space left in ${dir} while writing the backup; nothing was kept. Free space there or pass another --dir`);
  }
  if (code === "EACCES" || code === "EROFS" || code === "EPERM") {
    return new OpsError("write-failed", `cannot write the backup into ${dir} (${code}); pass a writable --dir`);
  }
  return err;
}
