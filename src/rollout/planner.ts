// The rollout planner: given what should run and what Docker and the edge report, what moves bring the service
// to exactly `replicas` healthy containers of ONE revision serving all traffic, and in which order. Two
// strategies: rolling (replace `surge` replicas at a time, one by default) and blue-green (start a full idle set, switch all traffic
// at once, keep the previous set idle for a switch back). Pure; the executor carries the moves out one at a
// time and asks again after each, so a run interrupted anywhere converges on the next run.
import type { Strategy } from "../../stacks/schema";
import { containerName } from "../vocabulary";

export type Health = "healthy" | "unhealthy" | "starting" | "none";

export interface ObservedContainer {
  name: string;
  /** `slipway.revision` label; "" when missing. */
  revision: string;
  /** `slipway.replica` label; 0 when missing or not a number. */
  replica: number;
  running: boolean;
  health: Health;
  /**
   * What the edge sends it: its full share ("live"), a share set by hand ("partial": a canary step's weights),
   * nothing ("idle", weight 0), or it has no slot ("absent").
   */
  routing?: Routing;
}

export type Routing = "live" | "partial" | "idle" | "absent";

export type { Strategy };

export interface Desired {
  stack: string;
  service: string;
  revision: string;
  replicas: number;
  /** Default "rolling". */
  strategy?: Strategy;
  /** blue-green: another revision whose running replicas stay, idle, for a switch back (the standby set). */
  keep?: string;
  /** canary: how many new replicas take the canary shares, and the shares in percent. */
  canary?: { replicas: number; steps: number[] };
  /**
   * Where the plan replaces or scales up (rolling): how many new replicas one move starts at once (api.rollout.surge).
   * Absent: one at a time.
   */
  surge?: number;
}

/** A move that starts one new replica (and retires its old counterpart, if any): what a batch is made of. */
export type StartMove = Extract<Move, { kind: "replace" | "scale-up" }>;

/** One unit of work; the executor expands it into steps (see `stepsOf`). */
export type Move =
  /** Remove a container that is not running: it serves nothing, and may hold a name we need. */
  | { kind: "discard"; name: string }
  /** A container of the wanted revision is running but not yet healthy: wait for it instead of replacing it. */
  | { kind: "adopt"; replica: number; name: string }
  /** Start the wanted revision beside an old container, then drain and remove the old one. */
  | { kind: "replace"; replica: number; start: string; retire: string }
  /** Start a replica that has no counterpart. */
  | { kind: "scale-up"; replica: number; start: string }
  /**
   * surge > 1: start every new replica of `moves`, wait until all are healthy and UP at the edge, then drain and
   * remove their old counterparts — capacity never dips below N, and at most `moves.length` replicas are extra.
   */
  | { kind: "batch"; moves: StartMove[] }
  /** Drain and remove a running container that is not wanted (surplus, unhealthy, or of a stray revision). */
  | { kind: "retire"; name: string; reason?: string }
  /** blue-green: start a replica the edge health-checks but sends nothing to (weight 0) until the switch. */
  | { kind: "stage"; replica: number; start: string }
  /** Send all traffic to `live` and none to `idle`, at once, on every edge. */
  | { kind: "switch"; live: string[]; idle: string[] }
  /** Give the staged `canaries` each share of `steps` in turn beside the serving `stable` set, judged after each. */
  | { kind: "canary"; canaries: string[]; stable: string[]; steps: number[] };

export type Step =
  | { kind: "start-new"; replica: number; name: string }
  | { kind: "wait-healthy"; replica: number; name: string }
  | { kind: "wait-edge-up"; replica: number; name: string }
  | { kind: "drain-old"; name: string }
  | { kind: "wait-drained"; name: string }
  | { kind: "remove-old"; name: string }
  /** Free edge slots get weight 0, so the replica about to start (`name`) lands idle. */
  | { kind: "idle-free-slots"; name: string }
  /** `name` says what switches, e.g. "3 live, 3 idle". */
  | { kind: "switch"; name: string; live: string[]; idle: string[] }
  /** Hold the canaries at `share` percent, then judge them against the stable set (`name`: e.g. "10%"). */
  | { kind: "canary-step"; name: string; share: number; canaries: string[]; stable: string[] };

export function stepsOf(move: Move): Step[] {
  switch (move.kind) {
    case "discard":
      return [{ kind: "remove-old", name: move.name }];
    case "adopt":
      return [
        { kind: "wait-healthy", replica: move.replica, name: move.name },
        { kind: "wait-edge-up", replica: move.replica, name: move.name },
      ];
    case "scale-up":
      return [
        { kind: "start-new", replica: move.replica, name: move.start },
        { kind: "wait-healthy", replica: move.replica, name: move.start },
        { kind: "wait-edge-up", replica: move.replica, name: move.start },
      ];
    case "replace":
      return [
        ...stepsOf({ kind: "scale-up", replica: move.replica, start: move.start }),
        ...stepsOf({ kind: "retire", name: move.retire }),
      ];
    case "batch": {
      // Step by step, but each phase for the whole batch before the next: the replicas start together, are
      // healthy by about the time the first one is, and no old one is drained before every new one is UP.
      const news = move.moves.map((m) => stepsOf({ kind: "scale-up", replica: m.replica, start: m.start }));
      const olds = move.moves.flatMap((m) => (m.kind === "replace" ? [stepsOf({ kind: "retire", name: m.retire })] : []));
      // Both expand to three steps: all first steps, then all second ones, then all third ones.
      const byPhase = (of: Step[][]) => [0, 1, 2].flatMap((i) => of.map((steps) => steps[i]!));
      return [...byPhase(news), ...byPhase(olds)];
    }
    case "retire":
      return [
        { kind: "drain-old", name: move.name },
        { kind: "wait-drained", name: move.name },
        { kind: "remove-old", name: move.name },
      ];
    case "stage":
      return [
        { kind: "idle-free-slots", name: move.start },
        { kind: "start-new", replica: move.replica, name: move.start },
        { kind: "wait-healthy", replica: move.replica, name: move.start },
        { kind: "wait-edge-up", replica: move.replica, name: move.start },
      ];
    case "switch":
      return [{ kind: "switch", name: `${move.live.length} live, ${move.idle.length} idle`, live: move.live, idle: move.idle }];
    case "canary":
      return [
        ...move.steps.map((share): Step => ({ kind: "canary-step", name: `${share}%`, share, canaries: move.canaries, stable: move.stable })),
        // Passed: every replica back to its full weight; the canaries are ordinary replicas from here on.
        { kind: "switch", name: "canary passed", live: [...move.canaries, ...move.stable], idle: [] },
      ];
  }
}

/**
 * All moves from `observed` to `desired`, in execution order:
 * 1. discard stopped containers; retire unhealthy ones of the wanted revision (their name is needed; an
 *    unhealthy OLD replica is replaced like any other, new one first, so capacity does not dip) — but only when
 *    that cannot empty the edge: it serves nothing (not live or partial), or another serving, healthy replica
 *    stays. Otherwise (every serving replica unhealthy: Docker's checks time out under load while the servers still
 *    answer) it is replaced new first like an old one, its replacement started beside it under the next free
 *    replica number (its own name is taken), and drained only once that replacement is healthy and UP;
 *    blue-green: staged under that number, switched, then retired;
 * 1b. a healthy wanted replica under a number above N (such a replacement) fills a vacant slot 1..N;
 * 2. adopt wanted containers still starting;
 * 3. per replica slot 1..N without a wanted container —
 *    rolling: replace its old container (new first), or scale up; `surge` of these at a time, as one batch;
 *    blue-green: stage a new replica, idle; the old set keeps all traffic;
 * 4. switch: once every wanted replica runs, all traffic goes to them at once (blue-green; rolling only when an
 *    earlier blue-green run left wanted replicas idle, or another revision live);
 * 5. retire whatever is left (surplus slots, duplicates, stray revisions) — last, so capacity never dips —
 *    except, in blue-green, the `keep` revision's replicas (the standby set), which stay idle.
 * Returns [] when the service already is exactly N healthy containers of the wanted revision taking the traffic.
 */
export function plan(desired: Desired, observed: ObservedContainer[]): Move[] {
  if (!Number.isInteger(desired.replicas) || desired.replicas < 0) {
    throw new Error(`planner: replicas must be a whole number >= 0, got ${desired.replicas}`);
  }
  const surge = desired.surge ?? 1;
  if (!Number.isInteger(surge) || surge < 1) throw new Error(`planner: surge must be a whole number >= 1, got ${desired.surge}`);
  const blueGreen = desired.strategy === "blue-green";
  const serving = (c: ObservedContainer) => c.routing === "live" || c.routing === "partial";
  const byName = [...observed].sort((a, b) => a.replica - b.replica || a.name.localeCompare(b.name));
  const wanted = (c: ObservedContainer) => c.revision === desired.revision;
  const moves: Move[] = [];
  const live: ObservedContainer[] = [];
  // Never take the last serving replicas out of the edge because Docker calls them unhealthy.
  const healthyServing = observed.some((c) => c.running && serving(c) && (c.health === "healthy" || c.health === "none"));
  for (const c of byName) {
    if (!c.running) moves.push({ kind: "discard", name: c.name });
    else if (c.health === "unhealthy" && wanted(c) && (!serving(c) || healthyServing)) moves.push({ kind: "retire", name: c.name, reason: "unhealthy" });
    else live.push(c);
  }

  const kept = new Map<number, ObservedContainer>();
  const keepable = (c: ObservedContainer) => wanted(c) && c.health !== "unhealthy";
  for (const c of live) {
    if (keepable(c) && c.replica >= 1 && c.replica <= desired.replicas && !kept.has(c.replica)) kept.set(c.replica, c);
  }
  // A replacement started under a spare number (beside an unhealthy replica that still served) takes the slot it left.
  const spares = live.filter((c) => keepable(c) && c.replica > desired.replicas);
  for (let replica = 1; replica <= desired.replicas && spares.length > 0; replica++) {
    if (!kept.has(replica)) kept.set(replica, spares.shift()!);
  }
  for (const c of kept.values()) {
    if (c.health === "starting") moves.push({ kind: "adopt", replica: c.replica, name: c.name });
  }
  // Where a slot's own name is still held (by an unhealthy replica that serves), its replacement starts under the
  // next number no container of the set uses, beside it — as surge starts new replicas beside old ones.
  const names = new Set(observed.map((c) => c.name));
  let spare = desired.replicas;
  const slotFor = (replica: number): { replica: number; start: string; holder?: ObservedContainer } => {
    const own = containerName(desired.stack, desired.service, desired.revision, replica);
    const holder = live.find((c) => c.name === own);
    if (!holder) return { replica, start: own };
    let start: string;
    do start = containerName(desired.stack, desired.service, desired.revision, ++spare);
    while (names.has(start));
    names.add(start);
    return { replica: spare, start, holder };
  };

  const keptNames = new Set([...kept.values()].map((c) => c.name));
  const leftovers = live.filter((c) => !keptNames.has(c.name));
  // Canary: while another revision serves and no wanted replica has its full share yet (none, staged idle, or a
  // canary step that an interrupted run left), stage the canaries, run the shares, then continue rolling.
  const servingOthers = leftovers.filter((c) => !wanted(c) && serving(c));
  if (desired.strategy === "canary" && desired.canary && servingOthers.length > 0 && ![...kept.values()].some((c) => c.routing === "live")) {
    const count = Math.min(desired.canary.replicas, desired.replicas);
    const canaries: string[] = [];
    for (let replica = 1; replica <= count; replica++) {
      const c = kept.get(replica);
      if (c) canaries.push(c.name);
      else {
        const slot = slotFor(replica);
        moves.push({ kind: "stage", replica: slot.replica, start: slot.start });
        canaries.push(slot.start);
      }
    }
    moves.push({ kind: "canary", canaries, stable: servingOthers.map((c) => c.name), steps: desired.canary.steps });
    return moves;
  }
  const standby = (c: ObservedContainer) => blueGreen && desired.keep !== undefined && desired.keep !== desired.revision && c.revision === desired.keep && c.health !== "unhealthy";
  const paired = new Set<string>();
  const starts: (StartMove | Extract<Move, { kind: "stage" }>)[] = [];
  for (let replica = 1; replica <= desired.replicas; replica++) {
    if (kept.has(replica)) continue;
    const slot = slotFor(replica);
    const start = slot.start;
    const old = blueGreen ? undefined : slot.holder ?? leftovers.find((c) => c.replica === replica && !wanted(c) && !paired.has(c.name));
    if (blueGreen) {
      // A holder serves until the switch and is retired after it, with the rest of the previous set.
      starts.push({ kind: "stage", replica: slot.replica, start });
    } else if (old) {
      paired.add(old.name);
      starts.push({ kind: "replace", replica: slot.replica, start, retire: old.name });
    } else {
      starts.push({ kind: "scale-up", replica, start });
    }
  }
  // Rolling: re-route first (a wanted replica left idle serves nothing), then replace. Blue-green: stage, then switch.
  const others = leftovers.filter((c) => !paired.has(c.name));
  const idleWanted = [...kept.values()].filter((c) => c.routing === "idle" || c.routing === "partial").map((c) => c.name);
  const liveOthers = others.filter(serving).map((c) => c.name);
  const newSet = [...keptNames, ...starts.map((m) => m.start)].sort();
  let switchMove: Move[] = [];
  // (Staged replicas land idle: a plan that stages also switches.)
  if (blueGreen && newSet.length > 0 && (starts.length > 0 || idleWanted.length > 0 || liveOthers.length > 0)) {
    switchMove = [{ kind: "switch", live: newSet, idle: liveOthers }];
  } else if (!blueGreen && idleWanted.length > 0) {
    // Only the idle ones: the others keep serving until their own replacement drains them.
    switchMove = [{ kind: "switch", live: idleWanted, idle: [] }];
  }
  moves.push(...(blueGreen ? [...starts, ...switchMove] : [...switchMove, ...batches(starts.filter((m): m is StartMove => m.kind !== "stage"), surge)]));
  for (const c of others) {
    if (standby(c)) continue;
    const reason = !wanted(c) ? "other revision" : c.health === "unhealthy" ? "unhealthy" : c.replica >= 1 && c.replica <= desired.replicas ? "duplicate" : "surplus";
    moves.push({ kind: "retire", name: c.name, reason });
  }
  return moves;
}

/** Rolling starts in groups of `surge` (a group of one stays the plain move: surge 1 plans exactly as before). */
function batches(starts: StartMove[], surge: number): Move[] {
  const out: Move[] = [];
  for (let i = 0; i < starts.length; i += surge) {
    const group = starts.slice(i, i + surge);
    out.push(group.length === 1 ? group[0]! : { kind: "batch", moves: group });
  }
  return out;
}

/** Reads Docker's `Status` text ("Up 3 seconds (healthy)") into a health value. */
export function healthFromStatus(status: string): Health {
  if (status.includes("(healthy)")) return "healthy";
  if (status.includes("(unhealthy)")) return "unhealthy";
  if (status.includes("(health: starting)")) return "starting";
  return "none";
}
