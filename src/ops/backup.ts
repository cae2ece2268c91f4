// backup(): dump a stack's database out of its running container into a directory on the machine
// running this code, so that only a complete, verified dump ever carries a `.dump` name:
//   pg_dump -Fc → <name>.partial (sha256 computed on the way) → fsync → read back in full by
//   pg_restore and re-hashed from disk → <name>.sha256 → rename to <name> → fsync dir →
//   retention (keep the N newest filed under the same prefix).
// Any failure (pg_dump error, disk full, killed process) leaves at most a `.partial`, which
// restore and retention never treat as a backup. Used by `npm run backup` and by the Pulumi
// program's pre-deploy command resource.
import type Docker from "dockerode";
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { Transform } from "node:stream";
import { checksumFileName, formatChecksumFile } from "./checksum";
import { pgDump } from "./commands";
import { resolveDatabase } from "./database";
import { sha256File } from "./hash";
import { connectDocker } from "../docker";
import { execInDb } from "./db-exec";
import { OpsError } from "./errors";
import { backupFileName, imageTagProblem, PARTIAL_SUFFIX, prefixProblem } from "./names";
import { selectForDeletion } from "./retention";
import { verifyArchive } from "./verify";

export interface BackupOptions {
  /** what the backup is filed under: the stack's Docker name prefix (slipway-<stack>), or any name (see names.ts) */
  prefix: string;
  dbContainer: string;
  /** directory on this machine; created if missing */
  dir: string;
  /** keep this many newest backups filed under `prefix` (default 7) */
  keep?: number;
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
}

export const DEFAULT_KEEP = 7;

export async function backup(opts: BackupOptions): Promise<BackupResult> {
  const keep = opts.keep ?? DEFAULT_KEEP;
  const imageTag = opts.imageTag ?? "untagged";
  const problem =
    prefixProblem(opts.prefix) ??
    imageTagProblem(imageTag) ??
    (Number.isInteger(keep) && keep >= 1 ? undefined : `--keep must be a whole number ≥ 1, got ${keep}`);
  if (problem) throw new OpsError("invalid-input", problem);
  const log = opts.log ?? (() => undefined);
  const docker = opts.docker ?? connectDocker();
  const db = await resolveDatabase(docker, opts.dbContainer, opts);

  const dir = path.resolve(opts.dir);
  await fs.mkdir(dir, { recursive: true });
  const name = backupFileName({ prefix: opts.prefix, takenAt: opts.now ?? new Date(), imageTag });
  const file = path.join(dir, name);
  const partial = file + PARTIAL_SUFFIX;
  if (await exists(file)) {
    throw new OpsError("already-exists", `backup ${file} already exists (two backups of stack '${opts.prefix}' in the same second?); wait a second and retry`);
  }

  log(`dumping database '${db.database}' from container '${opts.dbContainer}' to ${partial}`);
  const checksumFile = path.join(dir, checksumFileName(name));
  let dumped: { bytes: number; sha256: string };
  try {
    dumped = await dumpTo(docker, opts.dbContainer, db, partial);
    log(`verifying ${dumped.bytes} bytes by reading them back with pg_restore`);
    await verifyArchive(docker, opts.dbContainer, partial);
    const onDisk = await sha256File(partial);
    if (onDisk !== dumped.sha256) {
      throw new OpsError("write-failed", `the file written in ${dir} differs from what pg_dump sent (sha256 ${onDisk} ≠ ${dumped.sha256}); check the disk and retry`);
    }
    await writeAtomically(checksumFile, formatChecksumFile(dumped.sha256, name));
    await fs.rename(partial, file);
    await fsyncPath(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EEXIST" && e.path === partial) {
      // another backup of this stack started in the same second owns that .partial: leave it alone
      throw new OpsError("already-exists", `${partial} exists: another backup of stack '${opts.prefix}' is running (or was killed; then delete it) — retry in a second`);
    }
    await fs.rm(partial, { force: true });
    if (!(await exists(file))) await fs.rm(checksumFile, { force: true });
    throw explainWriteError(err, dir);
  }
  log(`backup ready: ${file}`);

  const deleted: string[] = [];
  for (const old of selectForDeletion(await fs.readdir(dir), keep, opts.prefix)) {
    if (old === name) continue; // a clock running backwards must not cost us the backup just taken
    await fs.rm(path.join(dir, old), { force: true });
    await fs.rm(path.join(dir, checksumFileName(old)), { force: true });
    deleted.push(path.join(dir, old));
    log(`retention (keep ${keep}): deleted ${old}`);
  }
  return { file, checksumFile, bytes: dumped.bytes, sha256: dumped.sha256, deleted };
}

async function dumpTo(docker: Docker, container: string, db: { database: string; user: string }, partial: string) {
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
  const out = (await fs.open(partial, "wx")).createWriteStream();
  let result;
  try {
    result = await execInDb(docker, container, pgDump(db), { stdout: [tap, out] });
  } catch (err) {
    out.destroy();
    throw err;
  }
  if (result.exitCode !== 0) {
    throw new OpsError("dump-failed", `pg_dump of database '${db.database}' in container '${container}' failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  }
  if (bytes === 0) throw new OpsError("dump-failed", `pg_dump in container '${container}' produced no output`);
  await fsyncPath(partial);
  return { bytes, sha256: hash.digest("hex") };
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = file + PARTIAL_SUFFIX;
  try {
    const handle = await fs.open(tmp, "w");
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

async function fsyncPath(file: string): Promise<void> {
  const handle = await fs.open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
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

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
