// The story of a release on Swarm: the new revision's service in the idle colour, all its tasks running and healthy,
// UP at every edge task, then the serving colour drained at every edge task, its sessions finished, its service
// removed, its slots made ready again. Blue-green: the new service staged idle (its slots drained) until all of it is
// UP, then switched at every edge task at once, and the old service kept running idle as the standby for a while — a
// release back to its revision then is a switch (nothing starts). A new service that does not become healthy is removed and the serving one
// keeps serving; the error names the reason. I/O here; what to do is decided in planner.ts.
import type Docker from "dockerode";
import { OP_RUNNING, ADMIN_FORCED_DRAIN } from "../edge/runtime-api";
import { LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, pollUntil, since } from "../vocabulary";
import { type EdgeTask, openRelay } from "./edge";
import { judgeTasks, type ObservedService, planRelease, type SwarmStandby, standbyLive } from "./planner";
import { apiServiceName, apiServiceSpec, COLOURS, type Colour, releaseRevision, type SecretRef, slotPrefix, type SwarmEdgeTarget, type SwarmReleaseSpec } from "./spec";
import { ensureSecrets, imageOwner, removeSecrets, removeService, secretsNamed, serviceLogTail, serviceTasks, waitServiceGone } from "./tasks";

export interface ReleaseTimeouts {
  /** Every new task running and healthy by then. */
  healthTimeoutMs: number;
  /** …and UP at every edge task by then. */
  edgeUpTimeoutMs: number;
  /** The old colour's sessions finished at every edge task by then. */
  drainTimeoutMs: number;
}

export interface ReleaseContext {
  docker: Docker;
  edge: SwarmEdgeTarget;
  timeouts: ReleaseTimeouts;
  log: (line: string) => void;
}

export interface ReleaseResult {
  colour: Colour;
  service: string;
  revision: string;
  /** Blue-green: the set that served before, running idle for a switch back, and until when. */
  standby?: SwarmStandby;
}

export class ReleaseFailure extends Error {}

/** The stack's API services, one per colour at most. */
export async function observeServices(docker: Docker, stack: string): Promise<ObservedService[]> {
  const list = (await docker.listServices({ filters: { label: [`${LABEL_STACK}=${stack}`, `${LABEL_RESOURCE}=api`] } })) as { Spec?: { Name?: string; Labels?: Record<string, string> } }[];
  return COLOURS.flatMap((colour) => {
    const s = list.find((x) => x.Spec?.Name === apiServiceName(stack, colour));
    return s ? [{ name: s.Spec!.Name!, colour, revision: s.Spec!.Labels?.[LABEL_REVISION] ?? "" }] : [];
  });
}

const slotsOf = <T extends { name: string }>(colour: Colour, rows: T[]): T[] => rows.filter((r) => new RegExp(`^${slotPrefix(colour)}\\d+$`).test(r.name));

async function everyEdge(ctx: ReleaseContext, edges: () => Promise<EdgeTask[]>, what: string, timeoutMs: number, done: (e: EdgeTask) => Promise<boolean>): Promise<void> {
  let pending: string[] = [];
  await pollUntil(
    async () => {
      const list = await edges();
      if (list.length === 0) {
        pending = ["(no edge task running)"];
        return undefined;
      }
      const results = await Promise.all(list.map(async (e) => ({ e, ok: await done(e).catch(() => false) })));
      pending = results.filter((r) => !r.ok).map((r) => r.e.runtime.container);
      return pending.length === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 500, onTimeout: () => new ReleaseFailure(`${what}: not within ${timeoutMs} ms at ${pending.join(", ")}`) },
  );
}

async function setSlots(edges: EdgeTask[], backend: string, colour: Colour, state: "drain" | "ready"): Promise<void> {
  await Promise.all(edges.map(async (e) => {
    const rows = slotsOf(colour, await e.runtime.serversState(backend));
    for (const r of rows) await e.runtime.setServerState(backend, r.name, state);
  }));
}

/** How a release moves traffic, and what the last one left (stored state). */
export interface ReleasePolicy {
  /**
   * Blue-green: the new service is staged idle (its slots drained at every edge task) until all its tasks are healthy
   * and UP, then traffic switches at every edge task at once, and the old service stays running idle as the standby
   * for `keepOldMinutes` (0: removed after the switch). Without it (rolling): the new service takes traffic beside
   * the old one as soon as each edge task has it UP, then the old one is drained and removed.
   */
  blueGreen?: { keepOldMinutes: number };
  /** The standby the last run left: a release back to its revision inside its window is a switch. */
  standby?: SwarmStandby;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * Brings the stack's API to `spec`. `serving`: the colour the last successful release left serving (stored state).
 */
export async function release(ctx: ReleaseContext, spec: SwarmReleaseSpec, serving?: Colour, policy: ReleasePolicy = {}): Promise<ReleaseResult> {
  const { docker, edge, log } = ctx;
  const now = policy.now ?? Date.now;
  const revision = releaseRevision(spec);
  const observed = await observeServices(docker, spec.stack);
  const live = policy.blueGreen && standbyLive(policy.standby, now()) ? policy.standby : undefined;
  const plan = planRelease(observed, revision, serving, live);
  if (plan.kind === "keep") {
    const kept = await keepOrRemoveStandby(ctx, spec.stack, observed, plan.colour, policy.standby, live);
    return { colour: plan.colour, service: apiServiceName(spec.stack, plan.colour), revision, ...(kept ? { standby: kept } : {}) };
  }
  const name = apiServiceName(spec.stack, plan.colour);
  const started = Date.now();
  const blueGreen = policy.blueGreen !== undefined;
  if (plan.kind === "release" && plan.stale) {
    log(`removing ${plan.stale}, ${plan.stale === policy.standby?.service ? "the blue-green standby (a new revision goes to its colour)" : "left by an interrupted run"}`);
    await removeService(docker, plan.stale);
    await waitServiceGone(docker, plan.stale, 60_000);
    await removeSecrets(docker, await secretsNamed(docker, spec.stack, plan.stale));
  }
  const relay = await openRelay(docker, spec.stack, edge);
  try {
    // Every edge task must be there to take the new tasks: a release never moves traffic behind an edge's back.
    await everyEdge(ctx, () => relay.edges(), "edge tasks answering on the runtime API", ctx.timeouts.edgeUpTimeoutMs, async (e) => (await e.runtime.serversState(edge.backend)).length > 0);
    let secrets: SecretRef[] = [];
    if (plan.kind === "release") {
      // Slots an interrupted run left drained would swallow the new tasks; blue-green stages them drained (idle).
      await setSlots(await relay.edges(), edge.backend, plan.colour, blueGreen ? "drain" : "ready");
      secrets = await ensureSecrets(docker, spec.stack, name, spec.secrets, spec.secretsKey);
      const owner = await imageOwner(docker, spec.image, log);
      log(`${name}: creating revision ${revision.slice(0, 8)} (${spec.replicas} replicas, ${spec.image})${blueGreen ? ", staged idle" : ""}`);
      await docker.createService(apiServiceSpec(spec, plan.colour, secrets, owner) as never);
    } else {
      log(`${name}: the blue-green standby runs revision ${revision.slice(0, 8)}: switching back to it`);
    }

    try {
      // A switch back accepts the standby's tasks taking traffic somewhere already (an edge task started since the last
      // switch has every slot ready): it is about to take all of it.
      const addresses = await tasksUp(ctx, relay, name, plan.colour, spec, started, plan.kind === "switch" ? "either" : blueGreen ? "idle" : "live");
      if (blueGreen) {
        // The switch, at each edge task: the new colour's slots ready, then the old colour's drained.
        for (const e of await relay.edges()) {
          await setSlots([e], edge.backend, plan.colour, "ready");
          if (plan.from) await setSlots([e], edge.backend, plan.from, "drain");
        }
        await everyEdge(ctx, () => relay.edges(), `${name}'s tasks taking traffic at every edge task`, ctx.timeouts.edgeUpTimeoutMs, async (e) => upAt(e, edge.backend, plan.colour, addresses, "live"));
        log(`${name}: switched at every edge task after ${since(started)}`);
      }
    } catch (e) {
      // A switch that stopped half-way (an edge task not confirming) left the serving colour drained at some edge
      // tasks: it takes traffic everywhere again before anything else.
      if (blueGreen && plan.from) await setSlots(await relay.edges(), edge.backend, plan.from, "ready").catch(() => undefined);
      if (plan.kind === "switch") {
        // The standby is idle again: the serving colour is as it was.
        await setSlots(await relay.edges(), edge.backend, plan.colour, "drain").catch(() => undefined);
        throw new ReleaseFailure(`switch back to the standby ${name} failed: ${(e as Error).message}; the serving release is unchanged`);
      }
      const logs = await serviceLogTail(docker, name);
      log(`${name}: did not become ready (${(e as Error).message}); removing it, ${plan.from ? apiServiceName(spec.stack, plan.from) : "nothing"} keeps serving`);
      // Drained first where an edge task already sent it requests: they finish before its tasks stop (the next release
      // into this colour makes its slots ready again).
      await setSlots(await relay.edges(), edge.backend, plan.colour, "drain").catch(() => undefined);
      await removeService(docker, name);
      await waitServiceGone(docker, name, 60_000);
      await removeSecrets(docker, secrets.map((s) => s.name));
      throw new ReleaseFailure(`release of ${spec.image} to ${name} failed: ${(e as Error).message}; the serving release is unchanged.\nLast log lines of ${name}:\n${logs.split("\n").map((l) => `  ${l}`).join("\n")}`);
    }

    let standby: SwarmStandby | undefined;
    if (plan.from) {
      const old = apiServiceName(spec.stack, plan.from);
      const oldColour = plan.from;
      if (!blueGreen) await setSlots(await relay.edges(), edge.backend, oldColour, "drain");
      await everyEdge(ctx, () => relay.edges(), `${old}'s sessions finished at every edge task`, ctx.timeouts.drainTimeoutMs, async (e) =>
        slotsOf(oldColour, await e.runtime.stat(edge.backend)).every((s) => s.scur === 0 && s.qcur === 0));
      const keepMinutes = policy.blueGreen?.keepOldMinutes ?? 0;
      const oldRevision = observed.find((o) => o.colour === oldColour)?.revision;
      if (keepMinutes > 0 && oldRevision) {
        standby = { colour: oldColour, service: old, revision: oldRevision, until: new Date(now() + keepMinutes * 60_000).toISOString() };
        log(`${old}: drained at every edge task after ${since(started)}; kept running idle as the standby until ${standby.until}`);
      } else {
        log(`${old}: drained at every edge task after ${since(started)}; removing it`);
        await removeColour(ctx, relay, spec.stack, oldColour);
      }
    }
    log(`${name}: serving revision ${revision.slice(0, 8)}; release took ${since(started)}`);
    return { colour: plan.colour, service: name, revision, ...(standby ? { standby } : {}) };
  } finally {
    await relay.close();
  }
}

type UpAs = "live" | "idle" | "either";

/** Whether `addresses` are all in `colour`'s slots at edge task `e`, running by its health check, and taking traffic ("live"), drained ("idle") or either. */
async function upAt(e: EdgeTask, backend: string, colour: Colour, addresses: string[], as: UpAs): Promise<boolean> {
  const drained = (r: { adminState: number }) => (r.adminState & ADMIN_FORCED_DRAIN) !== 0;
  const up = slotsOf(colour, await e.runtime.serversState(backend)).filter((r) => r.addr && addresses.includes(r.addr) && r.opState === OP_RUNNING && (as === "either" || drained(r) === (as === "idle")));
  return new Set(up.map((r) => r.addr)).size === addresses.length;
}

/** Waits until every task of `name` runs healthy and is UP at every edge task (taking traffic, or idle); their addresses. */
async function tasksUp(ctx: ReleaseContext, relay: Awaited<ReturnType<typeof openRelay>>, name: string, colour: Colour, spec: SwarmReleaseSpec, started: number, as: UpAs): Promise<string[]> {
  const tasks = await pollUntil(
    async () => {
      const verdict = judgeTasks(await serviceTasks(ctx.docker, name), spec.replicas, Math.max(2, spec.replicas));
      if (verdict.kind === "failed") throw new ReleaseFailure(verdict.reason);
      return verdict.kind === "ready" ? verdict.tasks : undefined;
    },
    { timeoutMs: ctx.timeouts.healthTimeoutMs, intervalMs: 1000, onTimeout: () => new ReleaseFailure(`its tasks were not all running and healthy within ${ctx.timeouts.healthTimeoutMs} ms`) },
  );
  const addresses = tasks.map((t) => t.addresses[spec.networks[0]!]).filter((a): a is string => !!a);
  ctx.log(`${name}: ${tasks.length} tasks healthy on ${[...new Set(tasks.map((t) => t.node))].join(", ")} after ${since(started)}`);
  await everyEdge(ctx, () => relay.edges(), `${name}'s ${addresses.length} tasks UP${as === "idle" ? " (idle)" : ""} at every edge task`, ctx.timeouts.edgeUpTimeoutMs, (e) => upAt(e, ctx.edge.backend, colour, addresses, as));
  ctx.log(`${name}: UP${as === "idle" ? " and idle" : ""} at every edge task after ${since(started)}`);
  return addresses;
}

/** Removes a drained colour's service, waits until the edge no longer sees a live task of it, makes its slots ready again. */
async function removeColour(ctx: ReleaseContext, relay: Awaited<ReturnType<typeof openRelay>>, stack: string, colour: Colour): Promise<void> {
  const old = apiServiceName(stack, colour);
  const oldSecrets = await secretsNamed(ctx.docker, stack, old);
  await removeService(ctx.docker, old);
  await waitServiceGone(ctx.docker, old, 120_000);
  // Back to ready only once the edge no longer sees a live old task in the slot (else the slot would take traffic
  // again): empty, or down by its health check.
  await everyEdge(ctx, () => relay.edges(), `${old}'s slots empty or down at every edge task`, ctx.timeouts.drainTimeoutMs + 30_000, async (e) =>
    slotsOf(colour, await e.runtime.serversState(ctx.edge.backend)).every((r) => !r.addr || r.opState !== OP_RUNNING));
  await setSlots(await relay.edges(), ctx.edge.backend, colour, "ready");
  await removeSecrets(ctx.docker, oldSecrets);
}

/**
 * Nothing to release: the standby stays while blue-green is on, its window lasts and its service is there; otherwise
 * the recorded standby's service (idle, drained at every edge task) is removed. Returns the standby that stays.
 */
async function keepOrRemoveStandby(ctx: ReleaseContext, stack: string, observed: ObservedService[], serving: Colour, stored: SwarmStandby | undefined, live: SwarmStandby | undefined): Promise<SwarmStandby | undefined> {
  if (!stored || stored.colour === serving) return undefined;
  const there = observed.find((o) => o.colour === stored.colour && o.name === stored.service);
  if (!there) return undefined;
  if (live && there.revision === live.revision) return live;
  ctx.log(`${stored.service}: the blue-green standby ${live ? "" : `(window ended ${stored.until}) `}is no longer kept; removing it`);
  const relay = await openRelay(ctx.docker, stack, ctx.edge);
  try {
    // It is idle already; drained again in case an interrupted run left it otherwise.
    await setSlots(await relay.edges(), ctx.edge.backend, stored.colour, "drain");
    await removeColour(ctx, relay, stack, stored.colour);
  } finally {
    await relay.close();
  }
  return undefined;
}

/** Removes both colours' services and their secrets (the stack is destroyed). */
export async function removeRelease(docker: Docker, stack: string): Promise<void> {
  for (const colour of COLOURS) {
    const name = apiServiceName(stack, colour);
    const secrets = await secretsNamed(docker, stack, name);
    await removeService(docker, name);
    await waitServiceGone(docker, name, 60_000);
    await removeSecrets(docker, secrets);
  }
}
