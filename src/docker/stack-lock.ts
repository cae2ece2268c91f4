// One lock per stack on its Docker host, so that a deploy and the verbs that change what it runs (backup, restore,
// maintenance) never overlap: a restore cannot replace the schema under a promote's migration, and `maintenance on`
// cannot fall into the window where a new HAProxy copies the maintenance map. The lock is a container named
// `<prefix>-lock`, created (never started) by whoever takes it: Docker creates a name once, so taking it is atomic for
// every machine that reaches that engine — unlike Pulumi's stack lock, which lives in one backend and which the verbs
// do not take. Its labels say who holds it (what, pid, host, since); the holder removes it when done. A holder that
// died leaves it behind: on its own host a dead pid makes it stale at once, from another host only its age does
// (LOCK_DEFAULTS.staleAfterHours). A process the holder started (the pre-deploy backup a deploy runs, the `pulumi up`
// a restore --to-latest runs) is inside the lock already and goes ahead. Decisions are pure (lockDecision); the
// Docker calls are at the edge (takeStackLock).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type Docker from "dockerode";
import { LOCK_DEFAULTS } from "../../stacks/schema";
import { LABEL_ROLE, LABEL_STACK, processGone, ROLES } from "../vocabulary";
import { isStatus } from "./connect";

export const LABEL_LOCK_HOLDER = "slipway.lock.holder";
export const LABEL_LOCK_PID = "slipway.lock.pid";
export const LABEL_LOCK_HOST = "slipway.lock.host";
export const LABEL_LOCK_SINCE = "slipway.lock.since";
/** For a deploy: the pid of the Pulumi engine whose program holds the lock (its steps are the engine's children). */
export const LABEL_LOCK_ENGINE = "slipway.lock.engine";

export function lockName(prefix: string): string {
  return `${prefix}-lock`;
}

export interface LockHolder {
  /** what holds it: deploy, backup, restore, maintenance */
  holder: string;
  pid: number;
  host: string;
  since: Date;
  /** a deploy: its Pulumi engine's pid */
  engine?: number;
}

export function holderLabels(h: LockHolder): Record<string, string> {
  return {
    [LABEL_LOCK_HOLDER]: h.holder,
    [LABEL_LOCK_PID]: String(h.pid),
    [LABEL_LOCK_HOST]: h.host,
    [LABEL_LOCK_SINCE]: h.since.toISOString(),
    ...(h.engine !== undefined ? { [LABEL_LOCK_ENGINE]: String(h.engine) } : {}),
  };
}

export function holderOfLabels(labels: Record<string, string> | undefined): LockHolder | undefined {
  const l = labels ?? {};
  const pid = Number(l[LABEL_LOCK_PID]);
  const since = new Date(l[LABEL_LOCK_SINCE] ?? "");
  if (!l[LABEL_LOCK_HOLDER] || !Number.isInteger(pid) || Number.isNaN(since.getTime())) return undefined;
  const engine = Number(l[LABEL_LOCK_ENGINE]);
  return { holder: l[LABEL_LOCK_HOLDER], pid, host: l[LABEL_LOCK_HOST] ?? "", since, ...(Number.isInteger(engine) && engine > 0 ? { engine } : {}) };
}

/** "deploy (pid 4242 on ci-runner-3, since 2026-12-06T04:20:00.000Z, 35 s ago)": who holds it, for messages. */
export function describeHolder(h: LockHolder, now: Date): string {
  return `${h.holder} (pid ${h.pid} on ${h.host}, since ${h.since.toISOString()}, ${Math.max(0, Math.round((now.getTime() - h.since.getTime()) / 1000))} s ago)`;
}

export type LockDecision = { action: "inside" } | { action: "stale"; why: string } | { action: "wait" } | { action: "refuse"; why: string };

/**
 * What to do about a lock someone holds. Pure: `self` is this process (its host and its ancestors' pids), `alive`
 * says whether a pid on this host still runs, `waitedMs` how long we have waited, `waitMs` how long we may.
 */
export function lockDecision(input: {
  holder: LockHolder | undefined;
  self: { host: string; ancestors: readonly number[] };
  alive: (pid: number) => boolean;
  now: Date;
  waitedMs: number;
  waitMs: number;
  staleAfterMs: number;
  name: string;
}): LockDecision {
  const { holder, self, now } = input;
  if (holder === undefined) return { action: "stale", why: `${input.name} carries no readable holder labels` };
  const sameHost = holder.host === self.host;
  if (sameHost && (self.ancestors.includes(holder.pid) || (holder.engine !== undefined && self.ancestors.includes(holder.engine)))) return { action: "inside" };
  if (sameHost && !input.alive(holder.pid)) return { action: "stale", why: `its holder, ${describeHolder(holder, now)}, is no longer running` };
  const age = now.getTime() - holder.since.getTime();
  if (age > input.staleAfterMs) return { action: "stale", why: `its holder, ${describeHolder(holder, now)}, took it more than ${Math.round(input.staleAfterMs / 3_600_000)} h ago` };
  if (input.waitedMs < input.waitMs) return { action: "wait" };
  return {
    action: "refuse",
    why:
      `stack lock ${input.name} is held by ${describeHolder(holder, now)}` +
      (input.waitMs > 0 ? `; waited ${Math.round(input.waitedMs / 1000)} s` : "") +
      `. Retry when it has finished (or raise --stack-lock-wait); if that process is gone for good, \`docker rm ${input.name}\` on the stack's Docker host`,
  };
}

/** A process's parent and command name: /proc where there is one (no process spawned), else `ps` (macOS). */
function procField(pid: number, field: "ppid" | "comm"): string | undefined {
  try {
    if (field === "comm") return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; the fields after its last ")" are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
  } catch {
    // no /proc here (or the process is gone)
  }
  try {
    return execFileSync("ps", ["-o", `${field}=`, "-p", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** This process's ancestors' pids, nearest first; none where neither /proc nor ps can tell. */
export function ancestors(pid = process.pid): number[] {
  const out: number[] = [];
  for (let p = pid, i = 0; i < 64; i++) {
    const parent = Number(procField(p, "ppid"));
    if (!Number.isInteger(parent) || parent <= 1) break;
    out.push(parent);
    p = parent;
  }
  return out;
}

/** An image already on the engine to create the (never started) lock container from: one of the stack's, else any. */
async function someImage(docker: Docker, prefix: string): Promise<string | undefined> {
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL_STACK}=${prefix}`] } });
  if (ours[0]) return ours[0].ImageID;
  const any = await docker.listImages();
  return any[0]?.Id;
}

export interface StackLock {
  /** removes the lock if this process took it (a no-op when it ran inside its holder's) */
  release(): Promise<void>;
  /** whether this process took it (false: it runs inside its holder's lock) */
  taken: boolean;
}

/**
 * Takes the stack's lock for `holder`, waiting up to `waitMs` for another holder to finish; refuses (throws) naming
 * who holds it. A stale lock is removed and taken. `engine`: a deploy's Pulumi engine pid (its steps run inside).
 */
export async function takeStackLock(
  docker: Docker,
  opts: { prefix: string; holder: string; waitMs?: number; staleAfterMs?: number; engine?: number; log?: (line: string) => void; pollMs?: number; now?: () => Date },
): Promise<StackLock> {
  const name = lockName(opts.prefix);
  const log = opts.log ?? (() => undefined);
  const now = opts.now ?? (() => new Date());
  const waitMs = opts.waitMs ?? LOCK_DEFAULTS.waitSeconds * 1000;
  const staleAfterMs = opts.staleAfterMs ?? LOCK_DEFAULTS.staleAfterHours * 3_600_000;
  const self = { host: hostname(), ancestors: ancestors() };
  const started = Date.now();
  let said = false;
  for (;;) {
    const image = await someImage(docker, opts.prefix);
    if (image === undefined) {
      log(`lock: no image on the Docker engine to create ${name} from (a host with nothing of the stack yet): going ahead without the stack lock`);
      return { taken: false, release: async () => undefined };
    }
    const me: LockHolder = { holder: opts.holder, pid: process.pid, host: self.host, since: now(), ...(opts.engine !== undefined ? { engine: opts.engine } : {}) };
    try {
      const c = await docker.createContainer({
        name,
        Image: image,
        Entrypoint: ["true"],
        Cmd: [],
        Labels: { [LABEL_STACK]: opts.prefix, [LABEL_ROLE]: ROLES.lock, ...holderLabels(me) },
        HostConfig: { NetworkMode: "none" },
      });
      log(`lock: took ${name} for ${opts.holder}`);
      let released = false;
      return {
        taken: true,
        release: async () => {
          if (released) return;
          released = true;
          await c.remove({ force: true }).catch((e: unknown) => {
            if (!isStatus(e, 404)) log(`lock: could not remove ${name} (${(e as Error).message}); remove it with \`docker rm ${name}\``);
          });
        },
      };
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
    }
    // Someone holds it: who, and what to do.
    const info = await docker
      .getContainer(name)
      .inspect()
      .catch((e: unknown) => (isStatus(e, 404) ? undefined : Promise.reject(e)));
    if (info === undefined) continue; // released between our create and our look: try again
    const holder = holderOfLabels(info.Config.Labels);
    const decision = lockDecision({ holder, self, alive: (pid) => !processGone(pid), now: now(), waitedMs: Date.now() - started, waitMs, staleAfterMs, name });
    if (decision.action === "inside") {
      log(`lock: ${name} is held by ${describeHolder(holder!, now())}, which started this ${opts.holder}: going ahead inside it`);
      return { taken: false, release: async () => undefined };
    }
    if (decision.action === "stale") {
      log(`lock: removing stale ${name}: ${decision.why}`);
      await docker
        .getContainer(info.Id)
        .remove({ force: true })
        .catch((e: unknown) => (isStatus(e, 404) ? undefined : Promise.reject(e)));
      continue;
    }
    if (decision.action === "refuse") throw new StackLockError(decision.why);
    if (!said) {
      log(`lock: ${name} is held by ${describeHolder(holder!, now())}; waiting up to ${Math.round(waitMs / 1000)} s for it`);
      said = true;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
  }
}

/**
 * The Pulumi engine this program runs under (its nearest ancestor named `pulumi`; else its grandparent, the
 * language host's parent): a deploy's lock names it, so the steps the engine runs (the pre-deploy backup) are inside.
 */
export function engineAncestor(): number | undefined {
  const chain = ancestors();
  for (const pid of chain) {
    const comm = procField(pid, "comm");
    if (comm === undefined) break;
    if (comm.split("/").pop() === "pulumi") return pid;
  }
  return chain[1];
}

/**
 * Removes `name` synchronously if `pid` still holds it: for a process that is exiting without its event loop (an
 * error ended the Pulumi program), so its lock does not wait to be found stale. Best effort, silent.
 */
export function releaseLockSync(dockerHost: string | undefined, name: string, pid: number): void {
  const script = `
    const { connectDocker } = require(${JSON.stringify(require.resolve("./connect"))});
    const docker = connectDocker(${JSON.stringify(dockerHost ?? "")} || undefined);
    docker.getContainer(${JSON.stringify(name)}).inspect()
      .then((c) => c.Config.Labels[${JSON.stringify(LABEL_LOCK_PID)}] === ${JSON.stringify(String(pid))} ? docker.getContainer(c.Id).remove({ force: true }) : undefined)
      .catch(() => undefined);`;
  try {
    execFileSync(process.execPath, ["--import", "tsx", "-e", script], { stdio: "ignore", timeout: 30_000 });
  } catch {
    // stale on this host at once anyway (the pid is gone)
  }
}

/** The stack prefix a container belongs to (its slipway.stack label): whose lock a verb on it takes; undefined outside any stack. */
export async function stackOfContainer(docker: Docker, container: string): Promise<string | undefined> {
  const info = await docker
    .getContainer(container)
    .inspect()
    .catch(() => undefined);
  return info?.Config.Labels?.[LABEL_STACK] || undefined;
}

export class StackLockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackLockError";
  }
}

/**
 * Runs `body` holding the stack's lock, released afterwards whether it succeeds or throws. A process killed meanwhile
 * leaves the lock behind, stale at once on its own host (its pid is gone), after LOCK_DEFAULTS.staleAfterHours elsewhere.
 */
export async function withStackLock<T>(docker: Docker, opts: Parameters<typeof takeStackLock>[1], body: () => Promise<T>): Promise<T> {
  const lock = await takeStackLock(docker, opts);
  try {
    return await body();
  } finally {
    await lock.release();
  }
}
