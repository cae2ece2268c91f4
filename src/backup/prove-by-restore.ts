// Proof by restore: put the dump into a throwaway PostgreSQL of the database container's image with the
// very command `restore` uses, then count every table's rows and compare them with what the source had
// in the dump's own snapshot (counted by countedDumpScript). Returns the record to keep beside the dump
// (verification.ts); a dump that does not restore cleanly or comes back with other row counts gets ok: false.
import type Docker from "dockerode";
import { createReadStream } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { execInContainer, tail } from "../docker";
import { countRowsScript, type Database, parseCounts, pgRestoreReplace, psqlScript, restoreProblem } from "../postgres/commands";
import { OpsError } from "../postgres/errors";
import { withThrowawayPostgres } from "../postgres/throwaway";
import { compareCounts, type VerificationRecord } from "./proof-record";

export interface VerifyByRestoreOptions {
  docker: Docker;
  /** the database container the dump came from: its image, settings and limits are reused */
  dbContainer: string;
  db: Database;
  /** the backups' prefix (a label on the throwaway container) */
  prefix: string;
  file: string;
  sha256: string;
  /** rows per table in the dump's snapshot of the source */
  sourceCounts: Record<string, number>;
  log?: (line: string) => void;
}

export async function verifyByRestore(opts: VerifyByRestoreOptions): Promise<VerificationRecord> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const dump = path.basename(opts.file);
  return withThrowawayPostgres(opts.docker, { source: opts.dbContainer, db: opts.db, prefix: opts.prefix, dump, log }, async (t) => {
    const record = (fields: Pick<VerificationRecord, "ok" | "restoredCounts" | "problems" | "restoreSeconds">): VerificationRecord => ({
      version: 1,
      dump,
      sha256: opts.sha256,
      verifiedAt: new Date().toISOString(),
      image: t.image,
      imageName: t.imageName,
      sourceCounts: opts.sourceCounts,
      ...fields,
      seconds: (Date.now() - started) / 1000,
    });
    log(`restoring ${dump} into ${t.name} with the restore verb's pg_restore command`);
    const restoreStarted = Date.now();
    const restored = await execInContainer(opts.docker, t.name, pgRestoreReplace(opts.db), { stdin: createReadStream(opts.file) });
    const restoreSeconds = (Date.now() - restoreStarted) / 1000;
    const problem = restoreProblem(restored);
    if (problem !== undefined) {
      const why = tail(problem, 20);
      return record({ ok: false, restoredCounts: null, problems: [`pg_restore into a fresh database failed: ${why}`], restoreSeconds });
    }
    const counted = await execInContainer(opts.docker, t.name, psqlScript(opts.db), { stdin: Readable.from([countRowsScript()]) });
    const restoredCounts = counted.exitCode === 0 ? parseCounts(counted.stdout) : undefined;
    if (!restoredCounts) {
      throw new OpsError("verify-failed", `could not count the rows restored into ${t.name} (psql exit ${counted.exitCode}): ${counted.stderr.trim() || counted.stdout.trim()}`);
    }
    const problems = compareCounts(opts.sourceCounts, restoredCounts);
    return record({ ok: problems.length === 0, restoredCounts, problems, restoreSeconds });
  });
}
