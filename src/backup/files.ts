// The backup directory and the files in it, private to the user running the verb: the directory is
// 0700 (created so, refused when it is open to others), every file 0600 (dumps hold all of a
// database's data). Small file helpers shared by backup, verification and fetch: atomic writes,
// fsync, and the heartbeat that tells the next backup a `.partial` is still being worked on.
import * as fs from "node:fs/promises";
import { OpsError } from "../postgres/errors";
import { HEARTBEAT_MS } from "./retention";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (0700) if missing; refuses one that is not a directory or that group or others may enter. */
export async function preparePrivateDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" || code === "ENOTDIR") throw new OpsError("unsafe-dir", `${dir} is not a directory; pass a directory as --dir`);
    throw new OpsError("write-failed", `cannot create the backup directory ${dir} (${code}); pass a writable --dir`);
  }
  const stat = await fs.stat(dir);
  if (!stat.isDirectory()) throw new OpsError("unsafe-dir", `${dir} is not a directory; pass a directory as --dir`);
  const open = stat.mode & 0o077;
  if (open !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
    throw new OpsError(
      "unsafe-dir",
      `backup directory ${dir} is open to other users (mode ${mode}) and dumps hold all of the database's data; make it private (chmod 700 ${dir}) or pass another --dir`,
    );
  }
}

/** Writes `text` to `file` through `<file>.partial` + fsync + rename, mode 0600. */
export async function writeAtomically(file: string, text: string, partialSuffix: string): Promise<void> {
  const tmp = file + partialSuffix;
  try {
    const handle = await fs.open(tmp, "w", PRIVATE_FILE_MODE);
    try {
      await handle.chmod(PRIVATE_FILE_MODE); // a leftover of the same name may have had another mode
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

export async function fsyncPath(file: string): Promise<void> {
  const handle = await fs.open(file, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Touches `files` every HEARTBEAT_MS until the returned function is called, so that a `.partial` whose
 * writer is silent for a while (pg_dump waiting for a lock, a long read-back) is not taken for a
 * leftover of a killed run (retention.ts: STALE_PARTIAL_MS). Files that do not exist (yet) are skipped.
 */
export function keepFresh(files: readonly string[], intervalMs = HEARTBEAT_MS): () => Promise<void> {
  let touching: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    const now = new Date();
    touching = Promise.all(files.map((f) => fs.utimes(f, now, now).catch(() => undefined)));
  }, intervalMs);
  timer.unref();
  // resolves once a touch already under way has landed: nothing is touched after that
  return async () => {
    clearInterval(timer);
    await touching;
  };
}
