// Proof that a dump is a complete pg_dump custom-format archive: pg_restore inside the DB
// container reads it to the end (see pgRestoreReadAll for why --list alone is not enough).
import type Docker from "dockerode";
import { createReadStream } from "node:fs";
import { PassThrough, Transform } from "node:stream";
import { pgRestoreReadAll } from "../postgres/commands";
import { execInDb } from "../postgres/db-exec";
import { OpsError } from "../postgres/errors";

/** Reads the whole archive with pg_restore inside the container; throws corrupt-dump if it cannot. */
export async function verifyArchive(docker: Docker, container: string, file: string): Promise<void> {
  refuseUnread(file, await execInDb(docker, container, pgRestoreReadAll(), { stdin: createReadStream(file) }));
}

/** corrupt-dump when the pg_restore that read `what` did not get to its end. */
function refuseUnread(what: string, result: { exitCode: number; stderr: string }): void {
  if (result.exitCode !== 0) {
    throw new OpsError("corrupt-dump", `${what} is not a complete pg_dump custom-format archive (pg_restore: ${result.stderr.trim() || `exit ${result.exitCode}`})`);
  }
}

/**
 * The same proof while the dump is written: a pg_restore reading the whole archive (pgRestoreReadAll) is fed a copy of
 * the stream as it goes to the file, so the archive is not read a second time after it was written. With the sha256
 * of the stream equal to that of the file on disk (backup.ts), the file is the archive pg_restore read to its end.
 * `tap` goes into the dump's pipeline (it passes every chunk on, and waits while the reader is behind); `result`
 * settles once the stream has ended and pg_restore has exited: corrupt-dump when it could not read it all.
 */
export function checkArchiveWhileWriting(docker: Docker, container: string, what: string): { tap: Transform; result: Promise<void>; abort(): void } {
  const copy = new PassThrough();
  // Its only error is abort()'s, which the exec's end of it acts on (it closes the reader's stdin), if it got that far.
  copy.on("error", () => undefined);
  let reading = true;
  const exited = execInDb(docker, container, pgRestoreReadAll(), { stdin: copy }).finally(() => {
    // The reader is gone (done, or it stopped at a bad block): what it has not read is dropped, nothing waits on it.
    reading = false;
    copy.unpipe();
    copy.resume();
  });
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!reading || copy.write(chunk)) done(null, chunk);
      else copy.once("drain", () => done(null, chunk));
    },
    flush(done) {
      copy.end();
      done();
    },
  });
  const result = exited.then((r) => refuseUnread(what, r));
  result.catch(() => undefined); // observed by the caller after the dump; never an unhandled rejection before that
  return { tap, result, abort: () => copy.destroy(new Error("the dump stopped")) };
}
