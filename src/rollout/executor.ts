// The story of a rollout: ask the planner for the next move, carry it out step by step, look again — until
// the service is exactly N healthy replicas of one revision taking all traffic. The replicas module talks to
// Docker, EdgeSlots to HAProxy. On a failed new replica it removes it, converges back to the previous spec (or
// to nothing, on a first create) and throws an error that names the replica and says why. Blue-green: the set
// that served before a switch stays idle as the standby for `keepOldMinutes`, so that converging back to its
// revision inside that window is a switch, not a rollout.
import type Docker from "dockerode";
import type { RolloutTimeouts, StrategySettings } from "../../stacks/schema";
import { EdgeSlots, type EdgeTarget } from "../edge/slots";
import { LABEL_STACK, revisionShort, since, sleep } from "../vocabulary";
import { type CanarySettings, canaryWeights, figuresOf, judgeCanary, parseAccessLog, type AccessRecord } from "./canary";
import { Move, ObservedContainer, plan, Step, stepsOf, type Strategy } from "./planner";
import { diagnose, observe, ReplicaFailure, removeReplica, startReplica, waitHealthy } from "./replicas";
import { ReplicaSpec, revisionOfSpec, validateSpec } from "./spec";

export type { EdgeTarget };

/** How long each step may take: api.rollout in stacks/schema.ts, declared (and defaulted) there. */
export type { RolloutTimeouts, StrategySettings };

export interface ExecutorContext {
  docker: Docker;
  /** Without an edge, the edge steps are skipped (nothing routes to the replicas then). */
  edge?: EdgeTarget;
  timeouts: RolloutTimeouts;
  log?: (line: string) => void;
  /** Handed each container's full log just before the container is removed. */
  onContainerLogs?: (name: string, logs: string) => void;
  /** Told how long each step took (benchmarks compute the start+healthy floor from it). */
  onStep?: (step: Step, ms: number) => void;
  /** One event per step, succeeded or failed (the provider writes them as JSON lines: SLIPWAY_ROLLOUT_EVENTS). */
  onEvent?: (event: RolloutEvent) => void;
}

/** What CI and monitoring read about a rollout, one per step. */
export interface RolloutEvent {
  time: string;
  stack: string;
  service: string;
  step: Step["kind"];
  container: string;
  /** The replica number, for steps on a new replica. */
  replica?: number;
  durationMs: number;
  outcome: "ok" | "failed";
  error?: string;
}

/** How a rollout moves traffic; the settings' defaults live in stacks/schema.ts (api.rollout). */
export interface RolloutPolicy {
  /** Default "rolling". */
  strategy?: Strategy;
  /** rolling: new replicas started at once (api.rollout.surge); absent: one at a time. */
  surge?: number;
  /** blue-green: how long the set that served before a switch stays idle for a switch back; 0: removed at once. */
  keepOldMinutes?: number;
  /** The standby set an earlier run left (kept in the provider's state). */
  standby?: Standby;
  /** canary: replicas, shares, hold time and gate thresholds. */
  canary?: CanarySettings;
  /** The clock (tests). */
  now?: () => number;
}

/** A blue-green standby: the previous set, running idle until `until`, for a switch back. */
export interface Standby {
  revision: string;
  containers: string[];
  /** ISO time after which the next run removes it. */
  until: string;
}

export interface RolloutResult {
  /** The replicas that serve (of the spec's revision). */
  containers: string[];
  standby?: Standby;
}

const MAX_MOVES_PER_REPLICA = 4;

/**
 * Brings `spec.stack/spec.service` to exactly `spec.replicas` healthy replicas of `spec`'s revision.
 * On failure of a new replica, goes back to `previous` (or removes everything when there is none) and throws.
 * Returns the names of the serving replicas, and the standby set (blue-green) if one stays.
 */
export async function converge(ctx: ExecutorContext, spec: ReplicaSpec, previous?: ReplicaSpec, policy: RolloutPolicy = {}): Promise<RolloutResult> {
  validateSpec(spec);
  const run = new Run(ctx, policy);
  await run.slots?.resetLeftovers();
  await run.slots?.setFreeSlots();
  try {
    return await run.reach(spec);
  } catch (err) {
    if (!(err instanceof ReplicaFailure)) throw err;
    const detail = await diagnose(ctx.docker, err.container);
    run.log(`replica ${err.container} failed: ${err.reason}; rolling back`);
    // If this fails, reaching the previous spec below retires the container anyway (it is of another revision).
    await run.execute({ kind: "retire", name: err.container }, spec).catch((e: Error) => run.log(`could not remove ${err.container}: ${e.message}`));
    let outcome: string;
    try {
      if (previous) {
        await run.reach(previous);
        outcome = `The service is back on revision ${revisionShort(revisionOfSpec(previous))} (${previous.replicas} replicas, image ${previous.image}).`;
      } else {
        await run.reach({ ...spec, replicas: 0 });
        outcome = "No previous version existed; every replica of this run was removed.";
      }
    } catch (rollbackErr) {
      outcome = `Rolling back ALSO failed: ${(rollbackErr as Error).message}`;
    }
    throw new Error(
      `Rollout of ${spec.stack}/${spec.service} to image ${spec.image} failed: replica ${err.container} ${err.reason}.\n` +
        `${detail}\n${outcome}\n` +
        `Fix the image or its health check, then run the deployment again.`,
    );
  }
}

/** Drains and removes every replica of `stack/service`. */
export async function removeAll(ctx: ExecutorContext, spec: ReplicaSpec): Promise<void> {
  const run = new Run(ctx, {});
  await run.reach({ ...spec, replicas: 0 });
}

class Run {
  readonly slots?: EdgeSlots;
  /** Drained replicas being stopped and removed while the rollout goes on. */
  private readonly stopping = new Map<string, Promise<void>>();

  private readonly strategy: Strategy;
  private readonly now: () => number;
  /** The standby set as it stands now: from the last run, then replaced by the set a switch made idle. */
  private standby?: Standby;
  /** What the last look saw, by name (a switch records the revision it made idle). */
  private seen = new Map<string, ObservedContainer>();

  constructor(
    private readonly ctx: ExecutorContext,
    private readonly policy: RolloutPolicy,
  ) {
    this.strategy = policy.strategy ?? "rolling";
    this.now = policy.now ?? Date.now;
    this.standby = this.strategy === "blue-green" ? policy.standby : undefined;
    if (ctx.edge) this.slots = new EdgeSlots(ctx.docker, ctx.edge, ctx.timeouts, (l) => this.log(l), this.strategy === "blue-green" ? "idle" : "full");
  }

  /** The standby's revision while its window lasts. */
  private keep(): string | undefined {
    return this.standby && Date.parse(this.standby.until) > this.now() ? this.standby.revision : undefined;
  }

  /** Docker's containers of the set (not those being stopped), with what the edge sends each. */
  private async look(spec: ReplicaSpec): Promise<ObservedContainer[]> {
    const listed = (await observe(this.ctx.docker, spec.stack, spec.service)).filter((c) => !this.stopping.has(c.name));
    const weights = await this.slots?.weights();
    const observed = listed.map(({ addresses, ...c }): ObservedContainer => {
      if (!weights) return c;
      const w = addresses.map((a) => weights.get(a)).find((x) => x !== undefined);
      const routing = !w ? "absent" : w.weight === 0 ? "idle" : w.weight === w.full ? "live" : "partial";
      return { ...c, routing };
    });
    this.seen = new Map(observed.map((c) => [c.name, c]));
    return observed;
  }

  log(line: string): void {
    (this.ctx.log ?? ((l: string) => console.log(l)))(`[rollout] ${line}`);
  }

  /** Runs plan → first move → observe again, until nothing is left to do. */
  async reach(spec: ReplicaSpec): Promise<RolloutResult> {
    const revision = revisionOfSpec(spec);
    const limit = MAX_MOVES_PER_REPLICA * (spec.replicas + 4);
    let expected: string | undefined;
    for (let i = 0; i < limit; i++) {
      const canary = this.policy.canary ? { canary: { replicas: this.policy.canary.replicas, steps: this.policy.canary.steps } } : {};
      const surge = this.policy.surge !== undefined ? { surge: this.policy.surge } : {};
      const desired = { stack: spec.stack, service: spec.service, revision, replicas: spec.replicas, strategy: this.strategy, keep: this.keep(), ...canary, ...surge };
      const observed = await this.look(spec);
      const moves = plan(desired, observed);
      if (moves.length === 0) {
        if (this.stopping.size === 0) return this.result(revision, observed);
        await Promise.all(this.stopping.values());
        continue; // look again: a removal that failed shows up as a leftover to retire
      }
      // Announce the plan, and again whenever it changed under us (e.g. a replica turned unhealthy).
      const text = moves.map(describe).join(", ");
      if (text !== expected) this.log(`${spec.stack}/${spec.service} → ${revisionShort(desired.revision)} x${spec.replicas}: ${text}`);
      expected = moves.slice(1).map(describe).join(", ");
      await this.execute(moves[0], spec);
    }
    throw new Error(`${spec.stack}/${spec.service}: still not converged after ${limit} moves; inspect with "docker ps -a --filter label=${LABEL_STACK}=${spec.stack}"`);
  }

  /**
   * Holds the canaries at their share for `stepSeconds`, then judges them on the edge's access log against the
   * stable set; on a failed gate the canaries get weight 0 (the stable set its full weight) and the run fails
   * quoting the figures.
   */
  private async canaryStep(step: Extract<Step, { kind: "canary-step" }>): Promise<void> {
    const settings = this.policy.canary;
    if (!this.slots || !settings) return;
    const w = canaryWeights(step.share, step.stable.length, step.canaries.length);
    await this.slots.setWeights([
      ...step.stable.map((container) => ({ container, weight: w.stable })),
      ...step.canaries.map((container) => ({ container, weight: w.canary })),
    ]);
    this.log(`canary ${step.canaries.join(", ")}: ${step.share} % of requests (weight ${w.canary} vs ${w.stable} per stable replica: ${w.actual.toFixed(1)} %), held ${settings.stepSeconds} s`);
    const from = Math.floor(this.now() / 1000);
    await sleep(settings.stepSeconds * 1000);
    const canary: AccessRecord[] = [];
    const stable: AccessRecord[] = [];
    for (const { text, slotOf } of await this.slots.accessLog(from, [...step.canaries, ...step.stable])) {
      for (const r of parseAccessLog(text, this.slots.target.backend)) {
        const container = slotOf.get(r.server);
        if (container && step.canaries.includes(container)) canary.push(r);
        else if (container) stable.push(r);
      }
    }
    const verdict = judgeCanary(step.share, figuresOf(canary), figuresOf(stable), settings);
    if (verdict.pass) {
      this.log(verdict.summary);
      return;
    }
    await this.slots.route(step.stable, step.canaries);
    const first = step.canaries[0]!;
    throw new ReplicaFailure(first, this.seen.get(first)?.replica ?? 1, verdict.summary);
  }

  private result(revision: string, observed: ObservedContainer[]): RolloutResult {
    const names = (rev: string) => observed.filter((c) => c.running && c.revision === rev).map((c) => c.name).sort();
    const keep = this.keep();
    const standby = keep !== undefined && keep !== revision && names(keep).length > 0 ? { ...this.standby!, containers: names(keep) } : undefined;
    if (standby) this.log(`${names(keep!).length} replica(s) of revision ${revisionShort(keep!)} stay idle until ${standby.until} for a switch back`);
    return { containers: names(revision), ...(standby ? { standby } : {}) };
  }

  async execute(move: Move, spec: ReplicaSpec): Promise<void> {
    for (const step of stepsOf(move)) {
      const start = Date.now();
      // A replaced old replica has another name than its successor: it may shut down (its own grace period)
      // while the next replica starts. Other removals free a name or end the run, so they are awaited.
      const event = (outcome: RolloutEvent["outcome"], error?: string): RolloutEvent => ({
        time: new Date(start).toISOString(), stack: spec.stack, service: spec.service, step: step.kind, container: step.name,
        ...("replica" in step ? { replica: step.replica } : {}), durationMs: Date.now() - start, outcome, ...(error ? { error } : {}),
      });
      try {
        await this.step(step, spec, move.kind === "replace" || move.kind === "batch");
      } catch (e) {
        this.ctx.onEvent?.(event("failed", (e as Error).message));
        throw e;
      }
      this.ctx.onStep?.(step, Date.now() - start);
      this.ctx.onEvent?.(event("ok"));
    }
  }

  private async step(step: Step, spec: ReplicaSpec, removeInBackground = false): Promise<void> {
    const start = Date.now();
    const t = this.ctx.timeouts;
    switch (step.kind) {
      case "start-new":
        await this.stopping.get(step.name); // a rollback may bring back a name that is still shutting down
        await startReplica(this.ctx.docker, spec, step.replica).catch((e: Error) => {
          throw new ReplicaFailure(step.name, step.replica, `could not be started: ${e.message}`);
        });
        this.log(`replica ${spec.service}-${step.replica} (${step.name}): started (${since(start)})`);
        return;
      case "wait-healthy":
        await waitHealthy(this.ctx.docker, step.name, step.replica, t.healthTimeoutMs);
        this.log(`replica ${spec.service}-${step.replica} (${step.name}): healthy (${since(start)})`);
        return;
      case "wait-edge-up": {
        if (!this.slots) return;
        const slot = await this.slots.waitUp(step.name).catch((e: Error) => {
          throw new ReplicaFailure(step.name, step.replica, e.message);
        });
        this.log(`${step.name}: UP at edge as ${slot} (${since(start)})`);
        return;
      }
      case "drain-old": {
        const slot = await this.slots?.drain(step.name);
        this.log(slot ? `${step.name}: draining ${slot}` : `${step.name}: not in the edge, nothing to drain`);
        return;
      }
      case "wait-drained":
        if (!this.slots?.isDrained(step.name)) return;
        this.log(`${step.name}: ${(await this.slots.waitDrained(step.name)) ? "drained" : "still busy at drain timeout, stopping anyway"} (${since(start)})`);
        return;
      case "idle-free-slots":
        await this.slots?.setFreeSlots("idle");
        return;
      case "switch": {
        // The revision that served until now becomes the standby (blue-green with a window).
        // Not the revision being reached: unhealthy replicas of it made idle for their replacements are no standby.
        const reaching = revisionOfSpec(spec);
        const before = step.idle.map((n) => this.seen.get(n)?.revision).filter((r): r is string => !!r && r !== reaching);
        await this.slots?.route(step.live, step.idle);
        // Rolling from here on (a canary that passed): a replica started next must land with its full weight.
        if (this.strategy !== "blue-green") await this.slots?.setFreeSlots("full");
        this.log(`switched: ${step.live.join(", ")} live${step.idle.length ? `; ${step.idle.join(", ")} idle` : ""} (${since(start)})`);
        const previous = mostCommon(before);
        const minutes = this.policy.keepOldMinutes ?? 0;
        if (this.strategy === "blue-green" && previous !== undefined) {
          this.standby = minutes > 0 ? { revision: previous, containers: [], until: new Date(this.now() + minutes * 60_000).toISOString() } : undefined;
        }
        return;
      }
      case "canary-step":
        await this.canaryStep(step);
        return;
      case "remove-old": {
        const removal = removeReplica(this.ctx.docker, step.name, t.stopGraceSeconds, this.ctx.onContainerLogs)
          .then(() => this.slots?.release(step.name))
          .then(
            () => this.log(`${step.name}: removed (${since(start)})`),
            (e: Error) => this.log(`${step.name}: removal failed, will retry: ${e.message}`),
          );
        if (!removeInBackground) return removal;
        this.stopping.set(step.name, removal.finally(() => this.stopping.delete(step.name)));
        this.log(`${step.name}: stopping in the background`);
        return;
      }
    }
  }
}

function describe(m: Move): string {
  switch (m.kind) {
    case "replace": return `replace ${m.retire} with ${m.start}`;
    case "scale-up": return `start ${m.start}`;
    case "batch": return `batch of ${m.moves.length} [${m.moves.map(describe).join("; ")}]`;
    case "adopt": return `wait for ${m.name}`;
    case "retire": return `retire ${m.name}${m.reason ? ` (${m.reason})` : ""}`;
    case "discard": return `discard stopped ${m.name}`;
    case "stage": return `stage ${m.start} (idle)`;
    case "switch": return `switch traffic to ${m.live.join(", ")}`;
    case "canary": return `canary ${m.canaries.join(", ")} at ${m.steps.join(" → ")} %`;
  }
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}
