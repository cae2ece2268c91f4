// Decides what a release does, from what the manager reports. Pure: the executor (release.ts) observes and acts.
import type { AccessRecord } from "../rollout/canary";
import { COLOURS, type Colour, isSlotOf, otherColour } from "./spec";

export interface ObservedService {
  name: string;
  colour: Colour;
  /** The revision label of the service (empty when it has none). */
  revision: string;
}

export type ReleasePlan =
  /** The serving service already runs this revision. */
  | { kind: "keep"; colour: Colour }
  /**
   * Start `colour` (after removing `stale`: a service an interrupted run left in that slot, or a blue-green standby),
   * move traffic from `from` (the serving colour, if any) to it, remove `from` (blue-green: keep it idle as the standby).
   */
  | { kind: "release"; colour: Colour; from?: Colour; stale?: string }
  /** Blue-green: the standby in `colour` runs this revision: route traffic back to it from `from`; nothing starts. */
  | { kind: "switch"; colour: Colour; from: Colour };

/** Blue-green: the set that served before the last switch, running idle in `colour` until `until` (ISO time). */
export interface SwarmStandby {
  colour: Colour;
  service: string;
  revision: string;
  until: string;
}

/** Pure: whether the standby may still be switched back to at `now` (ms). */
export function standbyLive(standby: SwarmStandby | undefined, now: number): standby is SwarmStandby {
  return standby !== undefined && Date.parse(standby.until) > now;
}

/**
 * @param observed  the stack's API services (at most one per colour)
 * @param revision  the revision wanted
 * @param serving   the colour the last successful run left serving (stored state), if any
 * @param standby   blue-green: the standby the last run left, while its window lasts (standbyLive)
 */
export function planRelease(observed: ObservedService[], revision: string, serving?: Colour, standby?: SwarmStandby): ReleasePlan {
  const byColour = new Map(observed.map((s) => [s.colour, s]));
  // The stored colour when its service is there; else the only service there is (state lost or written elsewhere).
  const current = serving && byColour.has(serving) ? serving : observed.length === 1 ? observed[0]!.colour : undefined;
  if (current && byColour.get(current)!.revision === revision) return { kind: "keep", colour: current };
  if (current && standby && standby.colour !== current && byColour.get(standby.colour)?.revision === revision && standby.revision === revision) {
    return { kind: "switch", colour: standby.colour, from: current };
  }
  const colour = current ? otherColour(current) : COLOURS[0];
  const stale = byColour.get(colour)?.name;
  return { kind: "release", colour, ...(current ? { from: current } : {}), ...(stale ? { stale } : {}) };
}

/** api.rollout.canary as a release reads it: the new service's first tasks and the shares they take in turn. */
export interface SwarmCanary {
  replicas: number;
  steps: number[];
}

/**
 * Pure: how a canary release starts — the new service with `tasks` tasks (at most the replicas wanted), taking the
 * shares `steps` before it scales to every replica. None when the plan is no release of a new service, or nothing
 * serves yet (there is no stable set to judge a canary against: the first release is a plain one).
 */
export function canaryOf(plan: ReleasePlan, replicas: number, canary: SwarmCanary | undefined): { tasks: number; steps: number[] } | undefined {
  if (!canary || plan.kind !== "release" || !plan.from) return undefined;
  return { tasks: Math.min(canary.replicas, replicas), steps: canary.steps };
}

/** Pure: the edge's access records split by the slot that served them — the canary colour's, the stable colour's. */
export function splitBySlot(records: AccessRecord[], canary: Colour, stable: Colour): { canary: AccessRecord[]; stable: AccessRecord[] } {
  return { canary: records.filter((r) => isSlotOf(canary, r.server)), stable: records.filter((r) => isSlotOf(stable, r.server)) };
}

/** A task as the manager lists it, reduced to what the release judges. */
export interface ObservedTask {
  id: string;
  node: string;
  /** The manager sees the task's node Ready (a Down node's tasks still read "running" until it is back). */
  nodeReady: boolean;
  /** Swarm's task state: new, pending, assigned, accepted, preparing, starting, running, complete, failed, shutdown, rejected, orphaned, remove. */
  state: string;
  desired: string;
  /** Swarm's error text for the task (failed, rejected), if any. */
  error?: string;
  exitCode?: number;
  /** Its address on each network, by network name (no prefix length). */
  addresses: Record<string, string>;
}

export type TasksVerdict =
  | { kind: "ready"; tasks: ObservedTask[] }
  | { kind: "waiting"; running: number }
  | { kind: "failed"; reason: string };

/**
 * Whether a release service's tasks are all up: `replicas` tasks wanted running are `running` (with a health check,
 * Swarm reports running only once the container is healthy). It has failed once `maxFailures` tasks ended failed or
 * rejected (Swarm restarts them; a broken image would keep failing until the budget runs out), with the reason of the
 * last one: Swarm's error text and the exit code.
 */
export function judgeTasks(tasks: ObservedTask[], replicas: number, maxFailures: number): TasksVerdict {
  const failed = tasks.filter((t) => t.state === "failed" || t.state === "rejected");
  if (failed.length >= maxFailures) {
    const last = failed[failed.length - 1]!;
    return { kind: "failed", reason: `${failed.length} tasks failed; the last on ${last.node || "no node"}: ${last.error ?? last.state}${last.exitCode !== undefined ? ` (exit code ${last.exitCode})` : ""}` };
  }
  const running = tasks.filter((t) => t.desired === "running" && t.state === "running" && t.nodeReady);
  if (running.length >= replicas) return { kind: "ready", tasks: running };
  return { kind: "waiting", running: running.length };
}
