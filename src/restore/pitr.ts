// pointInTimeRestore(): bring a stack's database back to a moment (--to-time T) or to the last archived one
// (--to-latest) from its pgBackRest repository (backup.wal; src/backup/wal.ts). Before anything changes it refuses —
// with the reason and what to do — a database that does not archive its WAL, a repository without a base backup, a
// time outside the recovery window (the message names the window), and a production restore nobody confirmed.
// Then, as the dump restore does (restore.ts), for a database in a deployed stack: maintenance ON at the edge →
// `pgbackrest check` (the current WAL segment is switched and archived, so every commit up to now is in the
// repository; an archive that fails stops the restore here, nothing changed) → the database container stopped → a
// one-off container of the same image with the same volumes runs `pgbackrest restore --delta` (base backup before
// the target + the WAL to replay) → the container started again: PostgreSQL replays up to the target and promotes
// → the running API image's migrations → maintenance off. The container is the one Pulumi made (same ID and
// settings), so `pulumi preview` stays empty. Decisions: pitr-plan.ts and plan.ts; the maintenance and migrations
// around the data change: frame.ts, shared with the dump restore.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { containerLogs, execInContainer, readContainerFile, resolveIds, tail, tarFiles } from "../docker";
import { OpsError } from "../postgres/errors";
import { engineName } from "../postgres/db-exec";
import { databaseFromEnv } from "../postgres/database";
import { knownHostsLine, OFF_HOST_REPO, PGDATA, pgbackrest, pgbackrestEnv, sftpKeyFile, STANZA_ENV, WAL_OS_USER, WAL_REPO_PATH, WAL_SFTP_KEY_FILE, WAL_SFTP_KNOWN_HOSTS_FILE, walEgressNetwork, walRepoVolume } from "../backup/wal";
import type { WalSettings } from "../../stacks/schema";
import { LABEL_ROLE, LABEL_STACK } from "../vocabulary";
import { RestoreFrame } from "./frame";
import { describePlan, PlanRefusal, planRestore, type RestorePlan } from "./plan";
import { confirmationNeeded } from "./policy";
import { describeTarget, describeWindow, type RecoveryTarget, type RecoveryWindow, recoveryEnd, recoveryWindow, restoreArgs, targetProblem } from "./pitr-plan";
import { observeStack, observeStackOf } from "./stack-state";
import { hostSite } from "./site";

/** How long PostgreSQL may take to replay the WAL and promote after the restore (--recovery-timeout). */
export const DEFAULT_RECOVERY_TIMEOUT_MS = 10 * 60_000;
/** The role of the one-off container that runs `pgbackrest restore`. */
const ROLE_PITR = "pitr-restore";

export interface PitrOptions {
  /** the stack's Docker name prefix */
  prefix: string;
  dbContainer: string;
  target: RecoveryTarget;
  production: boolean;
  yes?: boolean;
  isTTY?: boolean;
  confirm?: (question: string) => Promise<boolean>;
  docker: Docker;
  log?: (line: string) => void;
  maintenance?: boolean;
  maintenanceMessage?: string;
  migrate?: boolean;
  stackName?: string;
  deployedImage?: string;
  recoveryTimeoutMs?: number;
  /**
   * When the database container is gone (host lost, container and data volume removed): how the stack declares it,
   * and how to have Pulumi create it again (`pulumi up --refresh`) once its data volume is restored. Without it, a
   * missing container is refused.
   */
  rebuild?: DatabaseDeclaration;
  /** now, for the window (tests) */
  now?: () => Date;
}

export interface DatabaseDeclaration {
  /** images.postgres */
  image: string;
  /** database.user, database.name */
  user: string;
  database: string;
  wal: WalSettings;
  /** backup.wal.offHost: the private key (slipway:walSftpKey) the one-off containers read the off-host repository with */
  offHostKey?: string;
  /** `pulumi up --refresh` of the stack: creates the database container on the restored volume */
  recreate: (log: (line: string) => void) => Promise<void>;
}

export interface PitrResult {
  dbContainer: string;
  database: string;
  target: string;
  window: RecoveryWindow;
  plan: RestorePlan;
  edge: string;
  /** seconds from the container's stop to the promoted database */
  downtimeS: number;
}

export async function pointInTimeRestore(opts: PitrOptions): Promise<PitrResult> {
  const run = await PitrRun.prepare(opts);
  return run.execute();
}

class PitrRun {
  private readonly frame: RestoreFrame;

  private constructor(
    private readonly opts: PitrOptions,
    private readonly database: string,
    private readonly window: RecoveryWindow,
    private readonly plan: RestorePlan,
    private readonly stack: string | undefined,
    private readonly log: (line: string) => void,
    /** the container is gone: restore into its data volume, then Pulumi creates it again */
    private readonly rebuild?: DatabaseDeclaration,
  ) {
    this.frame = new RestoreFrame({ site: hostSite(opts.docker, opts.dbContainer), plan, stack, stackName: opts.stackName ?? opts.prefix, message: opts.maintenanceMessage, log });
  }

  static async prepare(opts: PitrOptions): Promise<PitrRun> {
    const log = opts.log ?? (() => undefined);
    const { docker, dbContainer } = opts;
    const confirmation = confirmationNeeded({ production: opts.production, yes: !!opts.yes, isTTY: !!opts.isTTY && !!opts.confirm });
    if (confirmation === "refuse") {
      throw new OpsError("needs-confirmation", `stack '${opts.prefix}' is production and there is no terminal to confirm on; pass --yes to restore it to ${describeTarget(opts.target)} without asking`);
    }
    const info = await docker.getContainer(dbContainer).inspect().catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404 && opts.rebuild) return undefined;
      if (err.statusCode === 404) {
        throw new OpsError("container-not-found", `database container '${dbContainer}' not found${engineName(docker)}; \`pulumi up\` recreates it (its WAL repository volume is kept), then restore (RUNBOOK "The database host is gone")`);
      }
      throw err;
    });
    if (!info) return PitrRun.prepareRebuild(opts, opts.rebuild!, confirmation, log);
    const env = info.Config.Env ?? [];
    if (!env.some((e) => e.startsWith(`${STANZA_ENV}=`))) {
      throw new OpsError("invalid-input", `database container '${dbContainer}' of stack '${opts.prefix}' does not archive its WAL, so there is no point in time to restore to: set slipway:backup.wal.enabled true and deploy (then only moments after the first base backup can be restored); a dump restores with --file`);
    }
    if (!info.State.Running) throw new OpsError("container-not-found", `database container '${dbContainer}'${engineName(docker)} is not running; start it (\`docker start ${dbContainer}\`) and retry`);
    const database = databaseFromEnv(env, {}).database;

    const infoJson = await pgbackrestIn(docker, dbContainer, ["info", "--output=json"]);
    if (infoJson.exitCode !== 0) throw new OpsError("invalid-input", `pgbackrest info in '${dbContainer}' failed (exit ${infoJson.exitCode}): ${(infoJson.stderr || infoJson.stdout).trim()}; nothing was changed`);
    const window = recoveryWindow(infoJson.stdout, (opts.now ?? (() => new Date()))());
    if ("problem" in window) throw new OpsError("invalid-input", `cannot restore stack '${opts.prefix}' to a point in time: ${window.problem}; nothing was changed`);
    const problem = targetProblem(opts.target, window, opts.stackName ?? opts.prefix);
    if (problem) throw new OpsError("invalid-input", `${problem}; nothing was changed`);
    log(`recovery window: ${describeWindow(window)}`);
    log(`target: ${describeTarget(opts.target)}`);

    if (confirmation === "ask") {
      const question = `Restore database '${database}' of stack '${opts.prefix}' (container '${dbContainer}') to ${describeTarget(opts.target)}? Everything written after that is lost. Type the stack name to continue: `;
      if (!(await opts.confirm!(question))) throw new OpsError("not-confirmed", `restore of stack '${opts.prefix}' not confirmed; nothing was changed`);
    }
    try {
      const state = await observeStack(docker, dbContainer);
      const plan = planRestore({ state, maintenance: opts.maintenance ?? true, migrate: opts.migrate ?? true, dbContainer, deployedImage: opts.deployedImage });
      for (const line of describePlan(plan, state.stack)) log(line);
      return new PitrRun(opts, database, window, plan, state.stack, log);
    } catch (err) {
      if (err instanceof PlanRefusal) throw new OpsError("invalid-input", `refusing to restore stack '${opts.prefix}': ${err.message}; nothing was changed`);
      throw err;
    }
  }

  /**
   * The container is gone (and maybe its data volume): only --to-latest, from the repository volume that survived.
   * Nothing to archive any more — what was not archived is lost (at most archive_timeout of writes).
   */
  private static async prepareRebuild(opts: PitrOptions, decl: DatabaseDeclaration, confirmation: string, log: (line: string) => void): Promise<PitrRun> {
    const { docker, dbContainer } = opts;
    const gone = `database container '${dbContainer}' is gone${engineName(docker)}`;
    if (opts.target.kind !== "latest") {
      throw new OpsError("invalid-input", `${gone}: restore it with --to-latest (everything archived; Pulumi creates the container again), then, if needed, --to-time; nothing was changed`);
    }
    const repo = walRepoVolume(opts.prefix);
    const repoKept = await docker.getVolume(repo).inspect().then(() => true, () => false);
    if (!repoKept && !decl.wal.offHost) {
      throw new OpsError("invalid-input", `${gone} and so is its WAL repository volume '${repo}': there is nothing to restore from on this engine; restore a dump (npm run restore -- --file or --from); nothing was changed`);
    }
    if (decl.wal.offHost && decl.offHostKey === undefined) {
      throw new OpsError("invalid-input", `${gone}; its off-host repository (backup.wal.offHost) needs the stack's slipway:walSftpKey, which this stack does not have: set it (pulumi config set --secret walSftpKey < id_ed25519); nothing was changed`);
    }
    // Without the volume, only the off-host repository: a repository volume created empty would be read as repo1
    // (pgBackRest then goes on to repo2); none is created before the restore itself.
    const binds = repoKept ? [`${repo}:${WAL_REPO_PATH}`] : [];
    const infoJson = await runOneOff(docker, { prefix: opts.prefix, image: decl.image, env: declaredEnv(opts.prefix, decl), binds, args: ["info", "--output=json", ...(repoKept ? [] : [`--repo=${OFF_HOST_REPO}`])], ...offHostAccess(opts.prefix, decl) });
    if (infoJson.exitCode !== 0) throw new OpsError("invalid-input", `pgbackrest info ${repoKept ? `on volume '${repo}'` : "on the off-host repository"} failed (exit ${infoJson.exitCode}): ${infoJson.output}; nothing was changed`);
    const window = recoveryWindow(infoJson.output, (opts.now ?? (() => new Date()))());
    if ("problem" in window) throw new OpsError("invalid-input", `cannot restore stack '${opts.prefix}': ${window.problem}; nothing was changed`);
    log(repoKept
      ? `${gone}: restoring its data volume from the WAL repository '${repo}'${decl.wal.offHost ? " (and the off-host one)" : ""}, then \`pulumi up --refresh\` creates it again`
      : `${gone} and so is its WAL repository volume '${repo}': restoring its data volume from the off-host repository (${decl.wal.offHost!.user}@${decl.wal.offHost!.host}:${decl.wal.offHost!.path}), then \`pulumi up --refresh\` creates it again`);
    log(`recovery window: ${describeWindow(window)}`);
    log(`target: ${describeTarget(opts.target)}`);
    if (confirmation === "ask") {
      const question = `Restore database '${decl.database}' of stack '${opts.prefix}' to the latest archived moment and recreate its container? Type the stack name to continue: `;
      if (!(await opts.confirm!(question))) throw new OpsError("not-confirmed", `restore of stack '${opts.prefix}' not confirmed; nothing was changed`);
    }
    const state = await observeStackOf(docker, opts.prefix, []);
    const plan: RestorePlan = {
      ...planRestore({ state, maintenance: opts.maintenance ?? true, migrate: false, dbContainer, deployedImage: opts.deployedImage }),
      migrate: { action: "skip", why: "restored to the latest archived moment: its schema is the one the running code already used" },
    };
    for (const line of describePlan(plan, opts.prefix)) log(line);
    return new PitrRun(opts, decl.database, window, plan, opts.prefix, log, decl);
  }

  async execute(): Promise<PitrResult> {
    if (this.rebuild) return this.executeRebuild(this.rebuild);
    const restored = `the database was restored to ${describeTarget(this.opts.target)}`;
    await this.frame.maintenanceOn();
    await this.archiveNow();
    const downtimeS = await this.restoreDataDirectory();
    await this.frame.migrate(restored);
    const edge = await this.frame.finish(restored);
    return { dbContainer: this.opts.dbContainer, database: this.database, target: describeTarget(this.opts.target), window: this.window, plan: this.plan, edge, downtimeS };
  }

  private async executeRebuild(decl: DatabaseDeclaration): Promise<PitrResult> {
    const { docker, dbContainer, prefix } = this.opts;
    await this.frame.maintenanceOn();
    const started = Date.now();
    const data = `${prefix}-pgdata`;
    const repo = walRepoVolume(prefix);
    if (!(await docker.getVolume(data).inspect().then(() => true, () => false))) {
      // the labels Pulumi gave the volumes (the surviving repository's), so its refresh reads this one as its own
      // (the host lost both: the stack's labels from its backend network, which Pulumi labels alike)
      const labels = (await docker.getVolume(repo).inspect().catch(() => undefined))?.Labels ?? (await docker.getNetwork(`${prefix}-backend`).inspect().catch(() => undefined))?.Labels ?? {};
      await docker.createVolume({ Name: data, Labels: labels });
      this.log(`data volume '${data}' created again (empty)`);
    }
    const repoKept = await docker.getVolume(repo).inspect().then(() => true, () => false);
    if (!repoKept) {
      // the container's own repository, created again empty: its stanza is created again by the deploy step that
      // `pulumi up --refresh` runs on the new container (before its base backups)
      const labels = (await docker.getVolume(data).inspect()).Labels ?? {};
      await docker.createVolume({ Name: repo, Labels: labels });
      this.log(`WAL repository volume '${repo}' created again (empty); the off-host repository has what the restore needs`);
    }
    const args = [...restoreArgs(this.opts.target), ...(repoKept ? [] : [`--repo=${OFF_HOST_REPO}`])];
    this.log(`restoring the data directory: pgbackrest ${args.join(" ")} into volume '${data}'`);
    const r = await runOneOff(docker, { prefix, image: decl.image, env: declaredEnv(prefix, decl), binds: [`${data}:${PGDATA}`, `${repo}:${WAL_REPO_PATH}`], args, ...offHostAccess(prefix, decl) });
    if (r.exitCode !== 0) {
      const edge = this.frame.keepOn(`volume '${data}' may be partly restored: fix the cause, then run the same restore again`);
      throw new OpsError("restore-failed", `pgbackrest restore failed (exit ${r.exitCode}):\n${tail(r.output, 20)}\nEdge: ${edge}`);
    }
    this.log("creating the database container again: pulumi up --refresh");
    try {
      await decl.recreate(this.log);
    } catch (err) {
      const edge = this.frame.keepOn(`the data volume is restored, but Pulumi did not create the container: fix, then \`pulumi up --refresh\``);
      throw new OpsError("restore-failed", `pulumi up --refresh failed: ${tail((err as Error).message, 20)}\nEdge: ${edge}`);
    }
    await this.waitPromoted();
    const downtimeS = (Date.now() - started) / 1000;
    this.log(`database restored to ${describeTarget(this.opts.target)}: out of recovery and accepting writes in container '${dbContainer}', ${downtimeS.toFixed(1)} s after the restore began`);
    const edge = await this.frame.finish("the database was restored");
    return { dbContainer, database: this.database, target: describeTarget(this.opts.target), window: this.window, plan: this.plan, edge, downtimeS };
  }

  /** The WAL written so far, archived: `pgbackrest check` switches the segment and waits until it is in the repository. */
  private async archiveNow(): Promise<void> {
    this.log("archiving the current WAL segment (pgbackrest check)");
    const r = await pgbackrestIn(this.opts.docker, this.opts.dbContainer, ["check"]);
    if (r.exitCode !== 0) {
      await this.frame.fail("restore", new OpsError("restore-failed", `the database's WAL archive is not working (pgbackrest check exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}); nothing was changed — fix archiving first (RUNBOOK "WalArchiveFailing")`));
    }
  }

  /** Container stopped → `pgbackrest restore --delta` in a one-off container on its volumes → started, replayed, promoted. */
  private async restoreDataDirectory(): Promise<number> {
    const { docker, dbContainer, target } = this.opts;
    const db = docker.getContainer(dbContainer);
    const info = await db.inspect();
    const stopped = Date.now();
    this.log(`stopping database container '${dbContainer}'`);
    await db.stop({ t: 30 }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err; // 304: already stopped
    });
    const args = restoreArgs(target);
    this.log(`restoring the data directory: pgbackrest ${args.join(" ")} in a one-off container on its volumes`);
    const binds = (info.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => `${m.Name}:${m.Destination}`);
    const env = (info.Config.Env ?? []).filter((e) => e.startsWith("PGBACKREST_"));
    const r = await runOneOff(docker, { prefix: this.stack ?? this.opts.prefix, image: info.Image, env, binds, args, ...(await offHostAccessOf(docker, info)) });
    if (r.exitCode !== 0) {
      const edge = this.frame.keepOn(`the data directory of '${dbContainer}' may be partly restored and the container is stopped: fix the cause, then run the same restore again`);
      throw new OpsError("restore-failed", `pgbackrest restore failed (exit ${r.exitCode}):\n${tail(r.output, 20)}\nEdge: ${edge}`);
    }
    if (r.output) this.log(tail(r.output, 10));
    this.log(`starting database container '${dbContainer}': PostgreSQL replays the WAL to ${describeTarget(target)}, then promotes`);
    await db.start();
    await this.waitPromoted();
    const downtimeS = (Date.now() - stopped) / 1000;
    this.log(`database restored to ${describeTarget(target)}: out of recovery and accepting writes ${downtimeS.toFixed(1)} s after the stop`);
    return downtimeS;
  }

  /**
   * archive_timeout in force from now on. PostgreSQL's checkpointer (17) computes its sleep while the server is still
   * in recovery — up to checkpoint_timeout, 5 min by default, the end-of-recovery checkpoint included — and forces no
   * segment switch until it wakes: measured, rows written for 2 min after a restore were in no archived segment, so a
   * second loss would have cost them all. A configuration reload (SIGHUP) wakes it; nothing else changes.
   */
  private async wakeCheckpointer(user: string): Promise<void> {
    const { docker, dbContainer } = this.opts;
    const r = await execInContainer(docker, dbContainer, ["psql", "-h", "/var/run/postgresql", "-U", user, "-d", "postgres", "-Atc", "SELECT pg_reload_conf()"], { user: WAL_OS_USER }).catch((err: Error) => ({ exitCode: -1, stdout: "", stderr: err.message }));
    if (r.exitCode === 0) this.log("archive_timeout in force again (checkpointer woken: pg_reload_conf)");
    else this.log(`warning: could not wake the checkpointer (pg_reload_conf: ${(r.stderr || r.stdout).trim()}): until its next checkpoint (checkpoint_timeout) archive_timeout may not switch segments; run \`SELECT pg_reload_conf()\` in '${dbContainer}'`);
  }

  /** Until the server is out of recovery (promoted): a restore whose target was not reached never gets there. */
  private async waitPromoted(): Promise<void> {
    const { docker, dbContainer } = this.opts;
    const budget = this.opts.recoveryTimeoutMs ?? DEFAULT_RECOVERY_TIMEOUT_MS;
    const deadline = Date.now() + budget;
    let last = "";
    const user = databaseUser(await docker.getContainer(dbContainer).inspect());
    while (Date.now() < deadline) {
      const r = await execInContainer(docker, dbContainer, ["psql", "-h", "/var/run/postgresql", "-U", user, "-d", "postgres", "-Atc", "SELECT pg_is_in_recovery()"], { user: WAL_OS_USER }).catch((err: Error) => ({ exitCode: -1, stdout: "", stderr: err.message }));
      if (r.exitCode === 0 && r.stdout.trim() === "f") {
        this.log(`recovery: ${recoveryEnd(await containerLogs(docker, dbContainer).catch(() => ""))}`);
        await this.wakeCheckpointer(user);
        return;
      }
      last = (r.stderr || r.stdout).trim();
      await new Promise((res) => setTimeout(res, 500));
    }
    const logs = await containerLogs(docker, dbContainer).catch(() => "");
    const edge = this.frame.keepOn(`the database did not finish its recovery: read \`docker logs ${dbContainer}\``);
    throw new OpsError("restore-failed", `database container '${dbContainer}' was not out of recovery within ${budget} ms (last: ${last}):\n${tail(logs.trim(), 15)}\nEdge: ${edge}`);
  }
}

function databaseUser(info: Docker.ContainerInspectInfo): string {
  return databaseFromEnv(info.Config.Env ?? [], {}).user;
}

/** The pgBackRest environment the program gives the container (src/backup/wal.ts), for one-off containers without it. */
function declaredEnv(prefix: string, decl: DatabaseDeclaration): string[] {
  return pgbackrestEnv({ prefix, dbUser: decl.user, wal: decl.wal });
}

/** What a one-off container needs to read the off-host repository: its files, and the egress network. */
interface OffHostAccess {
  files?: Array<{ path: string; content: string }>;
  network?: string;
}

/** From the stack's declaration (the container is gone): the key from its config, the known host from its settings. */
function offHostAccess(prefix: string, decl: DatabaseDeclaration): OffHostAccess {
  if (!decl.wal.offHost || decl.offHostKey === undefined) return {};
  return {
    files: [{ path: WAL_SFTP_KEY_FILE, content: sftpKeyFile(decl.offHostKey) }, { path: WAL_SFTP_KNOWN_HOSTS_FILE, content: knownHostsLine(decl.wal.offHost) }],
    network: walEgressNetwork(prefix),
  };
}

/** From the database container itself (running or stopped): its copies of the files, its egress network. */
async function offHostAccessOf(docker: Docker, info: Docker.ContainerInspectInfo): Promise<OffHostAccess> {
  if (!(info.Config.Env ?? []).some((e) => e.startsWith(`PGBACKREST_REPO${OFF_HOST_REPO}_`))) return {};
  const container = docker.getContainer(info.Id);
  const files: Array<{ path: string; content: string }> = [];
  for (const path of [WAL_SFTP_KEY_FILE, WAL_SFTP_KNOWN_HOSTS_FILE]) {
    const content = await readContainerFile(container, path);
    if (content !== undefined) files.push({ path, content });
  }
  const network = Object.keys(info.NetworkSettings.Networks ?? {}).find((n) => n.endsWith("-db-egress"));
  return { files, ...(network ? { network } : {}) };
}

/**
 * `pgbackrest <args>` in a one-off container of `image` on the given volumes, as postgres, removed after: with no
 * network, or the egress one when it reads the off-host repository (its key and known host written into it before it
 * starts, readable by postgres only).
 */
async function runOneOff(docker: Docker, o: { prefix: string; image: string; env: string[]; binds: string[]; args: string[] } & OffHostAccess): Promise<{ exitCode: number; output: string }> {
  const name = `${o.prefix}-pitr-restore-${randomBytes(4).toString("hex")}`;
  const one = await docker.createContainer({
    name,
    Image: o.image,
    User: WAL_OS_USER,
    Cmd: pgbackrest(o.args),
    Env: o.env,
    Labels: { [LABEL_STACK]: o.prefix, [LABEL_ROLE]: ROLE_PITR },
    HostConfig: { Binds: o.binds, NetworkMode: o.network ?? "none" },
  });
  try {
    if (o.files?.length) {
      const { uid, gid } = await resolveIds(WAL_OS_USER, (path) => readContainerFile(one, path));
      await one.putArchive(tarFiles([
        { path: "run/slipway/", content: "", dir: true, mode: 0o755 },
        ...o.files.map((f) => ({ path: f.path.replace(/^\//, ""), content: f.content, mode: 0o400, uid, gid })),
      ]), { path: "/" });
    }
    await one.start();
    const exit = (await one.wait()) as { StatusCode: number };
    return { exitCode: exit.StatusCode, output: (await containerLogs(docker, name)).trim() };
  } finally {
    await one.remove({ force: true }).catch(() => undefined);
  }
}

/** `pgbackrest …` in the database container as its postgres user. */
function pgbackrestIn(docker: Docker, container: string, args: string[]) {
  return execInContainer(docker, container, pgbackrest(args), { user: WAL_OS_USER });
}
