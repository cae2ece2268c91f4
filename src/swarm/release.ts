// The story of a release on Swarm: the new revision's service in the idle colour, all its tasks running and healthy,
// UP at every edge task, then the serving colour drained at every edge task, its sessions finished, its service
// removed, its slots made ready again. Blue-green: the new service staged idle (its slots drained) until all of it is
// UP, then switched at every edge task at once, and the old service kept running idle as the standby for a while — a
// release back to its revision then is a switch (nothing starts). Canary: the new service starts with the canary's
// tasks only, staged idle, then takes each share in turn (weights at every edge task) and is judged on the edge's own
// access log against the serving colour; passed, it scales to every replica and the release goes on as a rolling one.
// A new service that does not become healthy, or fails a canary gate, is removed and the serving one keeps serving;
// the error names the reason. I/O here; what to do is decided in planner.ts.
import type Docker from "dockerode";
import { OP_RUNNING, ADMIN_FORCED_DRAIN } from "../edge/runtime-api";
import { type CanarySettings, canaryWeights, figuresOf, judgeCanary, parseAccessLog } from "../rollout/canary";
import { LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, pollUntil, since, sleep } from "../vocabulary";
import { type EdgeTask, edgeTasks, openRelay } from "./edge";
import { canaryOf, judgeTasks, type ObservedService, planRelease, splitBySlot, type SwarmStandby, standbyLive } from "./planner";
import { apiServiceName, apiServiceSpec, COLOURS, type Colour, isSlotOf, releaseRevision, type SecretRef, type SwarmEdgeTarget, type SwarmReleaseSpec } from "./spec";
import { ensureSecrets, imageOwner, removeSecrets, removeService, scaleService, secretsNamed, serviceLogTail, serviceStdoutSince, serviceTasks, waitServiceGone } from "./tasks";

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

const slotsOf = <T extends { name: string }>(colour: Colour, rows: T[]): T[] => rows.filter((r) => isSlotOf(colour, r.name));

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

/** Every colour's slots back to their configured weight at `edges` (a canary's shares, or what an interrupted one left). */
async function setFullWeights(edges: EdgeTask[], backend: string): Promise<void> {
  await Promise.all(edges.map(async (e) => {
    const rows = (await e.runtime.serversState(backend)).filter((r) => COLOURS.some((c) => isSlotOf(c, r.name)) && r.weight !== r.fullWeight);
    if (rows.length > 0) await e.runtime.setWeights(backend, rows.map((r) => ({ slot: r.name, weight: "full" as const })));
  }));
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
  /**
   * Canary: a new revision starts with `canary.replicas` tasks, staged idle; each share of `steps` is set at every edge
   * task (weights) and held `stepSeconds`, then judged on the edge's access log against the serving colour (5xx rate,
   * p99); passed, the service scales to every replica and the old one is drained and removed as in a rolling release.
   */
  canary?: CanarySettings;
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
    const kept = await keepOrRemoveOther(ctx, spec.stack, observed, plan.colour, policy.standby, live);
    return { colour: plan.colour, service: apiServiceName(spec.stack, plan.colour), revision, ...(kept ? { standby: kept } : {}) };
  }
  const name = apiServiceName(spec.stack, plan.colour);
  const started = Date.now();
  const blueGreen = policy.blueGreen !== undefined;
  const canary = canaryOf(plan, spec.replicas, policy.canary);
  const relay = await openRelay(docker, spec.stack, edge);
  try {
    // Every edge task must be there to take the new tasks: a release never moves traffic behind an edge's back.
    await everyEdge(ctx, () => relay.edges(), "edge tasks answering on the runtime API", ctx.timeouts.edgeUpTimeoutMs, async (e) => (await e.runtime.serversState(edge.backend)).length > 0);
    if (plan.kind === "release" && plan.stale) {
      // The new revision's colour is taken: by the blue-green standby (idle), or by what an interrupted run left —
      // which may be taking requests: drained at every edge task first, removed once they are finished.
      log(`removing ${plan.stale}, ${plan.stale === policy.standby?.service ? "the blue-green standby (a new revision goes to its colour)" : "left by an interrupted run: draining it first"}`);
      await drainAndRemove(ctx, relay, spec.stack, plan.colour);
    }
    let secrets: SecretRef[] = [];
    if (plan.kind === "release") {
      // Slots an interrupted run left drained would swallow the new tasks; blue-green and canary stage them drained
      // (idle). Weights an interrupted canary left: back to the configured ones.
      const edges = await relay.edges();
      await setSlots(edges, edge.backend, plan.colour, blueGreen || canary ? "drain" : "ready");
      await setFullWeights(edges, edge.backend);
      secrets = await ensureSecrets(docker, spec.stack, name, spec.secrets, spec.secretsKey);
      const owner = await imageOwner(docker, spec.image, log);
      const service = apiServiceSpec(spec, plan.colour, secrets, owner);
      log(`${name}: creating revision ${revision.slice(0, 8)} (${canary ? `${canary.tasks} canary task${canary.tasks === 1 ? "" : "s"} of ${spec.replicas} replicas` : `${spec.replicas} replicas`}, ${spec.image})${blueGreen || canary ? ", staged idle" : ""}`);
      // A canary's service starts with its canary tasks only; its spec (and revision label) is the whole release's.
      await docker.createService((canary ? { ...service, Mode: { Replicated: { Replicas: canary.tasks } } } : service) as never);
    } else {
      log(`${name}: the blue-green standby runs revision ${revision.slice(0, 8)}: switching back to it`);
    }

    try {
      // A switch back accepts the standby's tasks taking traffic somewhere already (an edge task started since the last
      // switch has every slot ready): it is about to take all of it.
      const addresses = await tasksUp(ctx, relay, name, plan.colour, spec, canary?.tasks ?? spec.replicas, started, plan.kind === "switch" ? "either" : blueGreen || canary ? "idle" : "live");
      if (canary && plan.from && policy.canary) {
        await canarySteps(ctx, relay, spec, plan.colour, plan.from, canary.tasks, policy.canary);
        log(`${name}: canary passed after ${since(started)}; scaling to ${spec.replicas} replicas`);
        if (spec.replicas > canary.tasks) {
          await scaleService(docker, name, spec.replicas);
          await tasksUp(ctx, relay, name, plan.colour, spec, spec.replicas, started, "live");
        }
        await setFullWeights(await relay.edges(), edge.backend);
      }
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
      log(`${name}: not released (${(e as Error).message}); removing it, ${plan.from ? apiServiceName(spec.stack, plan.from) : "nothing"} keeps serving`);
      // Drained first where an edge task already sent it requests: they finish before its tasks stop. A canary's shares
      // end: the serving colour takes all again. Removed, its slots are made ready again once no live task of it is
      // left in them (as after any release: the idle colour's slots ready for whatever runs there next).
      await setSlots(await relay.edges(), edge.backend, plan.colour, "drain").catch(() => undefined);
      if (canary) await setFullWeights(await relay.edges(), edge.backend).catch(() => undefined);
      await removeColour(ctx, relay, spec.stack, plan.colour).catch(async (err: Error) => {
        log(`${name}: ${err.message}; its slots stay drained until the next release into them`);
        await removeService(docker, name);
        await waitServiceGone(docker, name, 60_000);
        await removeSecrets(docker, secrets.map((s) => s.name));
      });
      throw new ReleaseFailure(`release of ${spec.image} to ${name} failed: ${(e as Error).message}; the serving release is unchanged.\nLast log lines of ${name}:\n${logs.split("\n").map((l) => `  ${l}`).join("\n")}`);
    }

    let standby: SwarmStandby | undefined;
    if (plan.from) {
      const old = apiServiceName(spec.stack, plan.from);
      const oldColour = plan.from;
      // Blue-green drained it at the switch already; drained again, an edge task started since takes no more of it.
      await drainColour(ctx, relay, spec.stack, oldColour);
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

/** Waits until `replicas` tasks of `name` run healthy and are UP at every edge task (taking traffic, or idle); their addresses. */
async function tasksUp(ctx: ReleaseContext, relay: Awaited<ReturnType<typeof openRelay>>, name: string, colour: Colour, spec: SwarmReleaseSpec, replicas: number, started: number, as: UpAs): Promise<string[]> {
  const tasks = await pollUntil(
    async () => {
      const verdict = judgeTasks(await serviceTasks(ctx.docker, name), replicas, Math.max(2, replicas));
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

/**
 * Each share of the canary in turn: the weights at every edge task (the canary colour's slots ready), held
 * `stepSeconds`, then judged on the edge service's access log of that hold, canary colour against the serving one. A
 * failed gate throws with the figures (the caller drains and removes the canary's service).
 */
async function canarySteps(ctx: ReleaseContext, relay: Awaited<ReturnType<typeof openRelay>>, spec: SwarmReleaseSpec, colour: Colour, from: Colour, canaries: number, settings: CanarySettings): Promise<void> {
  const { docker, edge, log } = ctx;
  const name = apiServiceName(spec.stack, colour);
  const stable = (await serviceTasks(docker, apiServiceName(spec.stack, from))).filter((t) => t.desired === "running" && t.state === "running").length;
  for (const share of settings.steps) {
    const w = canaryWeights(share, Math.max(1, stable), canaries);
    // Every edge task (one still starting: waited for) — a share set at none would be judged on no requests.
    for (const e of await edgeTasks(relay, edge, ctx.timeouts.edgeUpTimeoutMs)) {
      const rows = await e.runtime.serversState(edge.backend);
      await e.runtime.setWeights(edge.backend, [...slotsOf(from, rows).map((r) => ({ slot: r.name, weight: w.stable })), ...slotsOf(colour, rows).map((r) => ({ slot: r.name, weight: w.canary }))]);
      await setSlots([e], edge.backend, colour, "ready");
    }
    log(`${name}: canary at ${share} % of requests at every edge task (weight ${w.canary} per canary task vs ${w.stable} per serving task: ${w.actual.toFixed(1)} %), held ${settings.stepSeconds} s`);
    const holdFrom = Math.floor(Date.now() / 1000);
    await sleep(settings.stepSeconds * 1000);
    const split = splitBySlot(parseAccessLog(await serviceStdoutSince(docker, edge.service, holdFrom), edge.backend), colour, from);
    const verdict = judgeCanary(share, figuresOf(split.canary), figuresOf(split.stable), settings);
    if (!verdict.pass) throw new ReleaseFailure(verdict.summary);
    log(`${name}: ${verdict.summary}`);
  }
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

/** A colour's slots drained at every edge task, then waited on until its sessions are finished there. */
async function drainColour(ctx: ReleaseContext, relay: Awaited<ReturnType<typeof openRelay>>, stack: string, colour: Colour): Promise<void> {
  await setSlots(await relay.edges(), ctx.edge.backend, colour, "drain");
  await everyEdge(ctx, () => relay.edges(), `${apiServiceName(stack, colour)}'s sessions finished at every edge task`, ctx.timeouts.drainTimeoutMs, async (e) =>
    slotsOf(colour, await e.runtime.stat(ctx.edge.backend)).every((r) => r.scur === 0 && r.qcur === 0));
}

/**
 * A colour's service that may be taking requests (a leftover) or is idle (a standby, drained again in case an
 * interrupted run left it otherwise): drained (drainColour), then removed (removeColour).
 */
async function drainAndRemove(ctx: ReleaseContext, relay: Awaited<ReturnType<typeof openRelay>>, stack: string, colour: Colour): Promise<void> {
  await drainColour(ctx, relay, stack, colour);
  await removeColour(ctx, relay, stack, colour);
}

/**
 * Nothing to release. The other colour's service, if there is one: the blue-green standby stays while blue-green is on,
 * its window lasts and it runs the standby's revision; anything else there — a standby no longer kept, or a service an
 * interrupted run left (a canary at its share, a new set not switched yet) — is drained at every edge task, removed,
 * and every slot's weight made whole again. Returns the standby that stays.
 */
async function keepOrRemoveOther(ctx: ReleaseContext, stack: string, observed: ObservedService[], serving: Colour, stored: SwarmStandby | undefined, live: SwarmStandby | undefined): Promise<SwarmStandby | undefined> {
  const other = observed.find((o) => o.colour !== serving);
  if (!other) return undefined;
  const standby = stored && stored.colour === other.colour && stored.service === other.name ? stored : undefined;
  if (standby && live && other.revision === live.revision) return live;
  ctx.log(standby ? `${other.name}: the blue-green standby ${live ? "" : `(window ended ${standby.until}) `}is no longer kept; removing it` : `${other.name}: left by an interrupted run (revision ${other.revision.slice(0, 8) || "unknown"}); draining and removing it`);
  const relay = await openRelay(ctx.docker, stack, ctx.edge);
  try {
    await drainAndRemove(ctx, relay, stack, other.colour);
    await setFullWeights(await relay.edges(), ctx.edge.backend);
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
