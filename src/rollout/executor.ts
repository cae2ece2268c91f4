// The story of a rollout: ask the planner for the next move, carry it out step by step, look again — until
// the service is exactly N healthy replicas of one revision. The replicas module talks to Docker, EdgeSlots to
// HAProxy. On a failed new replica it removes it, converges back to the previous spec (or to nothing, on a
// first create) and throws an error that names the replica and says why.
import type Docker from "dockerode";
import { EdgeSlots, type EdgeTarget } from "../edge/slots";
import { LABEL_STACK, revisionShort } from "./naming";
import { Move, plan, Step, stepsOf } from "./planner";
import { diagnose, observe, ReplicaFailure, removeReplica, startReplica, waitHealthy } from "./replicas";
import { ReplicaSpec, revisionOfSpec, validateSpec } from "./spec";
import { since } from "./wait";

export type { EdgeTarget };

/** How long each step may take; the defaults live in stacks/schema.ts (api.rollout). */
export interface RolloutTimeouts {
  /** From start until Docker reports the new replica healthy. */
  healthTimeoutMs: number;
  /** From healthy until HAProxy reports it UP. */
  edgeUpTimeoutMs: number;
  /** From drain until the old replica has no sessions left; then it is stopped anyway. */
  drainTimeoutMs: number;
  /** SIGTERM-to-SIGKILL grace for `docker stop`. */
  stopGraceSeconds: number;
}

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

const MAX_MOVES_PER_REPLICA = 4;

/**
 * Brings `spec.stack/spec.service` to exactly `spec.replicas` healthy replicas of `spec`'s revision.
 * On failure of a new replica, goes back to `previous` (or removes everything when there is none) and throws.
 * Returns the names of the running replicas.
 */
export async function converge(ctx: ExecutorContext, spec: ReplicaSpec, previous?: ReplicaSpec): Promise<string[]> {
  validateSpec(spec);
  const run = new Run(ctx);
  await run.slots?.resetLeftovers();
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
  const run = new Run(ctx);
  await run.reach({ ...spec, replicas: 0 });
}

class Run {
  readonly slots?: EdgeSlots;
  /** Drained replicas being stopped and removed while the rollout goes on. */
  private readonly stopping = new Map<string, Promise<void>>();

  constructor(private readonly ctx: ExecutorContext) {
    if (ctx.edge) this.slots = new EdgeSlots(ctx.docker, ctx.edge, ctx.timeouts, (l) => this.log(l));
  }

  log(line: string): void {
    (this.ctx.log ?? ((l: string) => console.log(l)))(`[rollout] ${line}`);
  }

  /** Runs plan → first move → observe again, until nothing is left to do. */
  async reach(spec: ReplicaSpec): Promise<string[]> {
    const desired = { stack: spec.stack, service: spec.service, revision: revisionOfSpec(spec), replicas: spec.replicas };
    const limit = MAX_MOVES_PER_REPLICA * (spec.replicas + 4);
    let expected: string | undefined;
    for (let i = 0; i < limit; i++) {
      const observed = (await observe(this.ctx.docker, spec.stack, spec.service)).filter((c) => !this.stopping.has(c.name));
      const moves = plan(desired, observed);
      if (moves.length === 0) {
        if (this.stopping.size === 0) return observed.map((c) => c.name).sort();
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
        await this.step(step, spec, move.kind === "replace");
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
    case "adopt": return `wait for ${m.name}`;
    case "retire": return `retire ${m.name}${m.reason ? ` (${m.reason})` : ""}`;
    case "discard": return `discard stopped ${m.name}`;
  }
}
