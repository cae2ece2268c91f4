// restore(): put a backup back into a stack's running database container, all or nothing.
// Before anything touches the database it refuses — with the reason and what to do — a missing
// file, a missing or mismatching checksum, an archive pg_restore cannot read to the end (a dump whose verification
// record vouches for these very bytes was restored whole already, and is not read through again), a dump of
// another stack (unless allowOtherStack), a production restore nobody confirmed, and — in production, unless
// allowUnverified — a dump never proven by a restore (no ok <dump>.verified.json for these bytes; elsewhere a
// warning). Then, for a database in a deployed stack: maintenance ON at the stack's edge (unless told not to, or
// already on) → a safety dump of the current data (backup.ts: read back in full, checksummed, kept; its failure
// stops the restore before anything is dropped) → the restore, one transaction that replaces the database's schemas wholesale with the dump's,
// waiting at most the lock timeout for locks → the running API image's migrations → maintenance off (only if
// restore turned it on). Any error in the restore rolls all of it back; every step and the edge's final state are
// logged. Decisions: plan.ts and policy.ts; what the engine shows about the stack: stack-state.ts; the maintenance and
// migrations around the data change: frame.ts, shared with the point-in-time restore (pitr.ts). restore() reads
// as its phases: RestoreRun.prepare (every refusal) then execute (maintenance on → replace → migrate → off).
import type Docker from "dockerode";
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { checksumFileName, parseChecksumFile } from "../backup/checksum";
import { cancelRestoreCommand, DEFAULT_LOCK_TIMEOUT_MS, pgRestoreReplace, restoreProblem } from "../postgres/commands";
import { resolveDatabase } from "../postgres/database";
import { connectDocker } from "../docker";
import { execInDb } from "../postgres/db-exec";
import { OpsError } from "../postgres/errors";
import { sha256File } from "../backup/hash";
import { PARTIAL_SUFFIX, parseBackupFileName, prefixProblem, VERIFIED_SUFFIX } from "../backup/names";
import { RestoreFrame } from "./frame";
import { describePlan, maintenanceAfter, PlanRefusal, planRestore, type RestorePlan } from "./plan";
import { hostSite, type RestoreSite } from "./site";
import { confirmationNeeded, prefixMismatchProblem, verificationDecision } from "./policy";
import { verificationState } from "../backup/proof-record";
import { verifyArchive } from "../backup/archive-check";
import { backup } from "../backup/backup";

/** The image-tag part of a safety dump's name (<prefix>-<time>-pre-restore.dump): what it is, at a glance. */
export const SAFETY_DUMP_TAG = "pre-restore";

export interface RestoreOptions {
  /** what this stack's backups are filed under: its Docker name prefix (slipway-<stack>), or any name (see names.ts) */
  prefix: string;
  dbContainer: string;
  file: string;
  /** production: skip the confirmation question */
  yes?: boolean;
  /** restore a dump whose name says it belongs to another prefix (or to none) (--allow-other-stack) */
  allowOtherStack?: boolean;
  /** in production, restore a dump never proven by a restore or one that failed its proof (--allow-unverified) */
  allowUnverified?: boolean;
  /**
   * where the safety dump of the current data is written before the schemas are replaced (a private directory, as
   * backup's; default: the directory of `file`)
   */
  safetyDumpDir?: string;
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
  /** turn maintenance on at the stack's edge for the restore (default true; --no-maintenance) */
  maintenance?: boolean;
  /** the message clients get while it is on */
  maintenanceMessage?: string;
  /** run the running API image's migrations after the restore (default true; --no-migrate) */
  migrate?: boolean;
  /** how long to wait for each lock on the existing data (default DEFAULT_LOCK_TIMEOUT_MS; --lock-timeout) */
  lockTimeoutMs?: number;
  /** the --stack the operator gave, for the hints (npm run maintenance -- --stack …) */
  stackName?: string;
  /** the image the stack's last update deployed (its `image` output), when the verb read a Pulumi stack */
  deployedImage?: string;
  /**
   * Where the stack's edge and migrations are (default: one Docker host, around `dbContainer`). On a swarm
   * (src/swarm/restore-site.ts) `dbContainer` is the client container on the manager that holds the database's tools.
   */
  site?: RestoreSite;
}

export interface RestoreResult {
  file: string;
  prefix: string;
  database: string;
  dbContainer: string;
  plan: RestorePlan;
  /** the safety dump of the data the restore replaced (kept; restore it to undo this restore) */
  safetyDump: string;
  /** the state the edge is left in, in words */
  edge: string;
  /** Where its time went, seconds: every check before anything changed, the safety dump, the replace, the rest. */
  seconds: { checks: number; safetyDump: number; replace: number; rest: number };
}

export async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const run = await RestoreRun.prepare(opts);
  return run.execute((Date.now() - started) / 1000);
}

/**
 * One restore, as phases. `prepare` refuses before anything changes; `execute` reads as the story:
 * maintenance on → replace the schemas → the running image's migrations → maintenance off.
 */
class RestoreRun {
  /** Which phase a signal interrupts: during "restore" the database session is cancelled (it rolls back). */
  private phase: "restore" | "after" = "restore";
  private interrupted: NodeJS.Signals | undefined;
  private readonly stackName: string;
  private readonly lockTimeoutMs: number;
  private readonly frame: RestoreFrame;

  private constructor(
    private readonly opts: RestoreOptions,
    private readonly file: string,
    private readonly docker: Docker,
    private readonly db: Awaited<ReturnType<typeof resolveDatabase>>,
    private readonly plan: RestorePlan,
    /** The database container's stack (its slipway.stack label), when it has one. */
    stack: string | undefined,
    site: RestoreSite,
    private readonly log: (line: string) => void,
  ) {
    this.stackName = opts.stackName ?? opts.prefix;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.frame = new RestoreFrame({ site, plan, stack, stackName: this.stackName, message: opts.maintenanceMessage, log });
  }

  /** Every refusal, before anything touches the database or the edge; then the plan around the database. */
  static async prepare(opts: RestoreOptions): Promise<RestoreRun> {
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
    const mismatch = prefixMismatchProblem({ dumpPrefix, prefix: opts.prefix, allowOtherStack: !!opts.allowOtherStack });
    if (mismatch) throw new OpsError("other-stack", `refusing to restore ${file}: ${mismatch}`);
    const recordText = await fs.readFile(file + VERIFIED_SUFFIX, "utf8").catch(() => undefined);
    const proof = verificationState(recordText, path.basename(file), sha256);
    const verification = verificationDecision({ state: proof, production: opts.production, allowUnverified: !!opts.allowUnverified });
    if (verification.refuse) throw new OpsError("unverified", `refusing to restore ${file} into production stack '${opts.prefix}': ${verification.refuse}`);
    if (verification.warn) log(verification.warn);

    const docker = opts.docker ?? connectDocker();
    const db = await resolveDatabase(docker, opts.dbContainer, opts);
    if (proof.state === "verified") {
      // These very bytes (the checksum just checked is the record's) were restored whole into a throwaway database:
      // a stronger proof than reading them through pg_restore again, which would cost a pass over the file.
      log(`${file} was proven by a restore (${proof.record.verifiedAt}) and its bytes are unchanged: not read through again`);
    } else {
      log(`reading ${file} back in full with pg_restore in container '${opts.dbContainer}'`);
      await verifyArchive(docker, opts.dbContainer, file);
    }

    if (confirmation === "ask") {
      const question = `Restore ${path.basename(file)} into database '${db.database}' of stack '${opts.prefix}' (container '${opts.dbContainer}')? Its current data will be replaced. Type the stack name to continue: `;
      if (!(await opts.confirm!(question))) {
        throw new OpsError("not-confirmed", `restore of stack '${opts.prefix}' not confirmed; nothing was changed`);
      }
    }

    try {
      const site = opts.site ?? hostSite(docker, opts.dbContainer);
      const state = await site.observe();
      const plan = planRestore({ state, maintenance: opts.maintenance ?? true, migrate: opts.migrate ?? true, dbContainer: opts.dbContainer, deployedImage: opts.deployedImage });
      for (const line of describePlan(plan, state.stack)) log(line);
      return new RestoreRun(opts, file, docker, db, plan, state.stack, site, log);
    } catch (err) {
      if (err instanceof PlanRefusal) throw new OpsError("invalid-input", `refusing to restore ${file}: ${err.message}; nothing was changed`);
      throw err;
    }
  }

  async execute(checks: number): Promise<RestoreResult> {
    const started = Date.now();
    const since = (t: number) => (Date.now() - t) / 1000;
    try {
      await this.frame.maintenanceOn();
      // from here on a signal ends the restore's session (it rolls back) rather than the process
      if (this.plan.maintenance.action === "turn-on") {
        process.once("SIGINT", this.onSignal);
        process.once("SIGTERM", this.onSignal);
      }
      let t = Date.now();
      const safetyDump = await this.safetyDump();
      const safetyDumpS = since(t);
      t = Date.now();
      await this.replaceSchemas();
      const replace = since(t);
      await this.frame.migrate(`the backup was restored (committed; the data it replaced is in ${safetyDump})`);
      const edge = await this.frame.finish(`the backup was restored${this.plan.migrate.action === "run" ? " and migrated" : ""} (the data it replaced is in ${safetyDump})`);
      const { file, opts, db, plan } = this;
      const seconds = { checks, safetyDump: safetyDumpS, replace, rest: since(started) - safetyDumpS - replace };
      return { file, prefix: opts.prefix, database: db.database, dbContainer: opts.dbContainer, plan, safetyDump, edge, seconds };
    } finally {
      this.detachSignals();
    }
  }

  /**
   * A dump of the data about to be replaced, taken as `npm run backup` takes one (read back in full by pg_restore,
   * checksummed, renamed to .dump only then) into the safety directory, filed under the stack's prefix with the tag
   * `pre-restore`, and kept: no retention runs here, so neither it nor the dump being restored can be rotated out by
   * it. Taken after maintenance is on, so it holds the last write clients made. Its failure ends the restore before
   * anything is dropped (maintenance off again, as for a failed restore).
   */
  private async safetyDump(): Promise<string> {
    const dir = this.opts.safetyDumpDir ?? path.dirname(this.file);
    this.log(`safety dump: dumping the current data of database '${this.db.database}' into ${dir} before it is replaced`);
    const take = () =>
      backup({
        prefix: this.opts.prefix,
        dbContainer: this.opts.dbContainer,
        dir,
        imageTag: SAFETY_DUMP_TAG,
        retention: false,
        database: this.db.database,
        user: this.db.user,
        docker: this.docker,
        log: this.log,
      });
    try {
      // names have seconds: a second restore within the same second as the last one (undoing it at once) waits one
      const taken = await take().catch(async (err: unknown) => {
        if (!(err instanceof OpsError && err.kind === "already-exists")) throw err;
        await new Promise((r) => setTimeout(r, 1100));
        return take();
      });
      this.log(`safety dump: ${taken.file} (${taken.bytes} bytes, sha256 ${taken.sha256.slice(0, 12)}…; kept — restore it to undo this restore)`);
      return taken.file;
    } catch (err) {
      const why = err instanceof OpsError ? err.message : String((err as Error).message ?? err);
      return this.frame.fail("restore", new OpsError("safety-dump-failed", `the safety dump of the current data into ${dir} failed, so nothing was dropped or restored: ${why}. Fix it (or pass --dir <private directory> for the safety dump) and run the restore again`));
    }
  }

  /** One transaction that replaces the database's schemas with the dump's, waiting at most the lock timeout. */
  private async replaceSchemas(): Promise<void> {
    const { db, opts, plan, file, stackName } = this;
    this.log(`restoring into database '${db.database}' in one transaction (replacing its schemas; lock timeout ${this.lockTimeoutMs} ms)`);
    const started = Date.now();
    const result = await execInDb(this.docker, opts.dbContainer, pgRestoreReplace(db, this.lockTimeoutMs), { stdin: createReadStream(file) }).catch(async (err: unknown) => {
      // refused before it ran (the container is gone or stopped): nothing changed
      if (err instanceof OpsError) return this.frame.fail("restore", err);
      // the engine connection broke mid-stream: the restore's session may still be running; maintenance stays as it is
      const edge = this.frame.keepOn("whether the restore committed is unknown: check the data first");
      throw new OpsError("restore-failed", `the restore's connection to the Docker engine failed (${(err as Error).message}); whether it committed is unknown: check the data.\nEdge: ${edge}`);
    });
    const failure = restoreProblem(result);
    if (failure !== undefined) {
      await this.frame.fail(
        "restore",
        new OpsError(
          "restore-failed",
          this.interrupted
            ? `restore into database '${db.database}' interrupted (${this.interrupted}): its session was ended and rolled back, so the data is as it was (${failure.split("\n")[0]})`
            : `restore into database '${db.database}' (container '${opts.dbContainer}') failed and was rolled back, so the data is as it was: ${failure}`,
        ),
      );
    }
    this.log(`restored in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    this.phase = "after";
    if (this.interrupted !== undefined) {
      // the restore had committed before the cancel reached it: stop here, before the migrations
      const edge = plan.maintenance.action === "turn-on" ? `maintenance stays ON: the restore committed before the ${this.interrupted} reached it, the migrations did not run; deploy (or run them), then \`npm run maintenance -- --stack ${stackName} off\`` : maintenanceAfter(plan, stackName).edge;
      this.log(`edge: ${edge}`);
      throw new OpsError("restore-failed", `interrupted (${this.interrupted}) after the restore had committed.\nEdge: ${edge}`);
    }
  }

  // Interrupted (Ctrl-C, SIGTERM) once maintenance is on. During the restore: its session in the database is
  // cancelled, so it rolls back (unless it had already committed) and the normal ending follows — maintenance off
  // again after a rollback. Later (migrations): maintenance stays on — the data may not fit the running code yet —
  // and the operator is told. A second signal ends the process at once.
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.detachSignals();
    this.interrupted = signal;
    if (this.phase === "restore") {
      this.log(`interrupted (${signal}): ending the restore's session in the database (it rolls back) (a second ${signal} ends restore at once, leaving maintenance ON)`);
      process.once(signal, () => process.kill(process.pid, signal));
      void execInDb(this.docker, this.opts.dbContainer, cancelRestoreCommand(this.db)).catch((err: Error) => this.log(`could not end the restore's session: ${err.message}`));
      return;
    }
    this.log(`edge: interrupted (${signal}) — maintenance stays ON: the data is restored but the migrations may not have finished; check, then \`npm run maintenance -- --stack ${this.stackName} off\``);
    process.kill(process.pid, signal);
  };

  private detachSignals(): void {
    process.removeListener("SIGINT", this.onSignal);
    process.removeListener("SIGTERM", this.onSignal);
  }
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
