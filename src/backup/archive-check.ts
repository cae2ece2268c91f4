// Proof that a dump is a complete pg_dump custom-format archive: pg_restore inside the DB
// container reads it to the end (see pgRestoreReadAll for why --list alone is not enough).
import type Docker from "dockerode";
import { createReadStream } from "node:fs";
import { pgRestoreReadAll } from "../postgres/commands";
import { execInDb } from "../postgres/db-exec";
import { OpsError } from "../postgres/errors";

/** Reads the whole archive with pg_restore inside the container; throws corrupt-dump if it cannot. */
export async function verifyArchive(docker: Docker, container: string, file: string): Promise<void> {
  const result = await execInDb(docker, container, pgRestoreReadAll(), { stdin: createReadStream(file) });
  if (result.exitCode !== 0) {
    throw new OpsError("corrupt-dump", `${file} is not a complete pg_dump custom-format archive (pg_restore: ${result.stderr.trim() || `exit ${result.exitCode}`})`);
  }
}

