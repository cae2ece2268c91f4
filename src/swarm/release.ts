// The story of a release on Swarm: the new revision's service in the idle colour, all its tasks running and healthy,
// UP at every edge task, then the serving colour drained at every edge task, its sessions finished, its service
// removed, its slots made ready again. A new service that does not become healthy is removed and the serving one
// keeps serving; the error names the reason. I/O here; what to do is decided in planner.ts.
import type Docker from "dockerode";
import { OP_RUNNING, ADMIN_FORCED_DRAIN } from "../edge/runtime-api";
import { LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, pollUntil, since } from "../vocabulary";
import { type EdgeTask, openRelay } from "./edge";
import { judgeTasks, type ObservedService, planRelease } from "./planner";
import { apiServiceName, apiServiceSpec, COLOURS, type Colour, releaseRevision, slotPrefix, type SwarmEdgeTarget, type SwarmReleaseSpec } from "./spec";
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

/**
 * Brings the stack's API to `spec`. `serving`: the colour the last successful release left serving (stored state).
 */
export async function release(ctx: ReleaseContext, spec: SwarmReleaseSpec, serving?: Colour): Promise<ReleaseResult> {
  const { docker, edge, log } = ctx;
  const revision = releaseRevision(spec);
  const plan = planRelease(await observeServices(docker, spec.stack), revision, serving);
  if (plan.kind === "keep") return { colour: plan.colour, service: apiServiceName(spec.stack, plan.colour), revision };
  const name = apiServiceName(spec.stack, plan.colour);
  const started = Date.now();
  if (plan.stale) {
    log(`removing ${plan.stale}, left by an interrupted run`);
    await removeService(docker, plan.stale);
    await waitServiceGone(docker, plan.stale, 60_000);
    await removeSecrets(docker, await secretsNamed(docker, spec.stack, plan.stale));
  }
  const relay = await openRelay(docker, spec.stack, edge);
  try {
    // Every edge task must be there to take the new tasks: a release never moves traffic behind an edge's back.
    await everyEdge(ctx, () => relay.edges(), "edge tasks answering on the runtime API", ctx.timeouts.edgeUpTimeoutMs, async (e) => (await e.runtime.serversState(edge.backend)).length > 0);
    // Slots an interrupted run left drained would swallow the new tasks.
    await setSlots(await relay.edges(), edge.backend, plan.colour, "ready");

    const secrets = await ensureSecrets(docker, spec.stack, name, spec.secrets, spec.secretsKey);
    const owner = await imageOwner(docker, spec.image, log);
    log(`${name}: creating revision ${revision.slice(0, 8)} (${spec.replicas} replicas, ${spec.image})`);
    await docker.createService(apiServiceSpec(spec, plan.colour, secrets, owner) as never);

    let addresses: string[] = [];
    try {
      const tasks = await pollUntil(
        async () => {
          const verdict = judgeTasks(await serviceTasks(docker, name), spec.replicas, Math.max(2, spec.replicas));
          if (verdict.kind === "failed") throw new ReleaseFailure(verdict.reason);
          return verdict.kind === "ready" ? verdict.tasks : undefined;
        },
        { timeoutMs: ctx.timeouts.healthTimeoutMs, intervalMs: 1000, onTimeout: () => new ReleaseFailure(`its tasks were not all running and healthy within ${ctx.timeouts.healthTimeoutMs} ms`) },
      );
      addresses = tasks.map((t) => t.addresses[spec.networks[0]!]).filter((a): a is string => !!a);
      log(`${name}: ${tasks.length} tasks healthy on ${[...new Set(tasks.map((t) => t.node))].join(", ")} after ${since(started)}`);
      await everyEdge(ctx, () => relay.edges(), `${name}'s ${addresses.length} tasks UP at every edge task`, ctx.timeouts.edgeUpTimeoutMs, async (e) => {
        const up = slotsOf(plan.colour, await e.runtime.serversState(edge.backend)).filter((r) => r.addr && addresses.includes(r.addr) && r.opState === OP_RUNNING && (r.adminState & ADMIN_FORCED_DRAIN) === 0);
        return new Set(up.map((r) => r.addr)).size === addresses.length;
      });
      log(`${name}: UP at every edge task after ${since(started)}`);
    } catch (e) {
      const logs = await serviceLogTail(docker, name);
      log(`${name}: did not become ready (${(e as Error).message}); removing it, ${plan.from ? apiServiceName(spec.stack, plan.from) : "nothing"} keeps serving`);
      await removeService(docker, name);
      await waitServiceGone(docker, name, 60_000);
      await removeSecrets(docker, secrets.map((s) => s.name));
      throw new ReleaseFailure(`release of ${spec.image} to ${name} failed: ${(e as Error).message}; the serving release is unchanged.\nLast log lines of ${name}:\n${logs.split("\n").map((l) => `  ${l}`).join("\n")}`);
    }

    if (plan.from) {
      const old = apiServiceName(spec.stack, plan.from);
      const oldColour = plan.from;
      await setSlots(await relay.edges(), edge.backend, oldColour, "drain");
      await everyEdge(ctx, () => relay.edges(), `${old}'s sessions finished at every edge task`, ctx.timeouts.drainTimeoutMs, async (e) =>
        slotsOf(oldColour, await e.runtime.stat(edge.backend)).every((s) => s.scur === 0 && s.qcur === 0));
      log(`${old}: drained at every edge task after ${since(started)}; removing it`);
      const oldSecrets = await secretsNamed(docker, spec.stack, old);
      await removeService(docker, old);
      await waitServiceGone(docker, old, 120_000);
      // Back to ready only once the edge no longer sees a live old task in the slot (else the slot would take traffic
      // again): empty, or down by its health check.
      await everyEdge(ctx, () => relay.edges(), `${old}'s slots empty or down at every edge task`, ctx.timeouts.drainTimeoutMs + 30_000, async (e) =>
        slotsOf(oldColour, await e.runtime.serversState(edge.backend)).every((r) => !r.addr || r.opState !== OP_RUNNING));
      await setSlots(await relay.edges(), edge.backend, oldColour, "ready");
      await removeSecrets(docker, oldSecrets);
    }
    log(`${name}: serving revision ${revision.slice(0, 8)}; release took ${since(started)}`);
    return { colour: plan.colour, service: name, revision };
  } finally {
    await relay.close();
  }
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
