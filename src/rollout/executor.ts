// Carries out the planner's moves against Docker (dockerode) and the edge (HAProxy runtime API), one move at a
// time, re-observing in between. On a failed new replica it removes it, converges back to the previous spec
// (or to nothing, on a first create) and throws an error that names the replica and says why.
import type Docker from "dockerode";
import {
  ADMIN_FORCED_DRAIN,
  ADMIN_FORCED_MAINT,
  edgeRuntime,
  EdgeRuntime,
  OP_RUNNING,
} from "../edge/runtime-api";
import { demuxLogs, tail } from "./docker-logs";
import { LABEL_REPLICA, LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, revisionShort } from "./naming";
import { healthFromStatus, Move, ObservedContainer, plan, Step, stepsOf } from "./planner";
import { createOptions, ReplicaSpec, revisionOfSpec, validateSpec } from "./spec";
import { pollUntil, since } from "./wait";

export interface EdgeTarget {
  /** Name of the edge (HAProxy) container. */
  container: string;
  /** Backend whose `server-template` slots the replicas fill. */
  backend: string;
}

export interface RolloutTimeouts {
  /** From start until Docker reports the new replica healthy. Default 60 s. */
  healthTimeoutMs?: number;
  /** From healthy until HAProxy reports it UP. Default 20 s. */
  edgeUpTimeoutMs?: number;
  /** From drain until the old replica has no sessions left; then it is stopped anyway. Default 30 s. */
  drainTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace for `docker stop`. Default 10 s. */
  stopGraceSeconds?: number;
}

export interface ExecutorContext {
  docker: Docker;
  /** Without an edge, the edge steps are skipped (nothing routes to the replicas then). */
  edge?: EdgeTarget;
  timeouts?: RolloutTimeouts;
  log?: (line: string) => void;
  /** Handed each container's full log just before the container is removed. */
  onContainerLogs?: (name: string, logs: string) => void;
  /** Told how long each step took (benchmarks compute the start+healthy floor from it). */
  onStep?: (step: Step, ms: number) => void;
}

/** A new replica did not become healthy / UP. Internal: converge() turns it into the error people read. */
class ReplicaFailure extends Error {
  constructor(readonly container: string, readonly replica: number, readonly reason: string) {
    super(`${container}: ${reason}`);
  }
}

const MAX_MOVES_PER_REPLICA = 4;

export async function observe(docker: Docker, stack: string, service: string): Promise<ObservedContainer[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_STACK}=${stack}`, `${LABEL_RESOURCE}=${service}`] },
  });
  return list.map((c) => ({
    name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
    revision: c.Labels[LABEL_REVISION] ?? "",
    replica: Number(c.Labels[LABEL_REPLICA]) || 0,
    running: c.State === "running",
    health: healthFromStatus(c.Status),
  }));
}

/**
 * Brings `spec.stack/spec.service` to exactly `spec.replicas` healthy replicas of `spec`'s revision.
 * On failure of a new replica, goes back to `previous` (or removes everything when there is none) and throws.
 * Returns the names of the running replicas.
 */
export async function converge(ctx: ExecutorContext, spec: ReplicaSpec, previous?: ReplicaSpec): Promise<string[]> {
  validateSpec(spec);
  const run = new Run(ctx);
  await run.resetEdgeLeftovers();
  try {
    return await run.reach(spec);
  } catch (err) {
    if (!(err instanceof ReplicaFailure)) throw err;
    const detail = await run.diagnose(err);
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
  private readonly edge?: EdgeRuntime;
  private edgeNetworks?: Set<string>;
  private readonly drained = new Map<string, { slot: string; addr: string }>();
  /** Drained replicas being stopped and removed while the rollout goes on. */
  private readonly stopping = new Map<string, Promise<void>>();
  private readonly t: Required<RolloutTimeouts>;

  constructor(private readonly ctx: ExecutorContext) {
    this.edge = ctx.edge ? edgeRuntime(ctx.docker, ctx.edge.container) : undefined;
    this.t = {
      healthTimeoutMs: ctx.timeouts?.healthTimeoutMs ?? 60_000,
      edgeUpTimeoutMs: ctx.timeouts?.edgeUpTimeoutMs ?? 20_000,
      drainTimeoutMs: ctx.timeouts?.drainTimeoutMs ?? 30_000,
      stopGraceSeconds: ctx.timeouts?.stopGraceSeconds ?? 10,
    };
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
      // Replicas already drained and shutting down in the background are as good as gone.
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
      await this.step(step, spec, move.kind === "replace");
      this.ctx.onStep?.(step, Date.now() - start);
    }
  }

  private async step(step: Step, spec: ReplicaSpec, removeInBackground = false): Promise<void> {
    const start = Date.now();
    switch (step.kind) {
      case "start-new": {
        const label = `replica ${spec.service}-${step.replica} (${step.name})`;
        await this.stopping.get(step.name); // a rollback may bring back a name that is still shutting down
        await this.startContainer(spec, step.replica).catch((e: Error) => {
          throw new ReplicaFailure(step.name, step.replica, `could not be started: ${e.message}`);
        });
        this.log(`${label}: started (${since(start)})`);
        return;
      }
      case "wait-healthy":
        await this.waitHealthy(step.name, step.replica);
        this.log(`replica ${spec.service}-${step.replica} (${step.name}): healthy (${since(start)})`);
        return;
      case "wait-edge-up": {
        if (!this.edge || !this.ctx.edge) return;
        const slot = await this.waitEdgeUp(step.name);
        this.log(`${step.name}: UP at edge as ${this.ctx.edge.backend}/${slot} (${since(start)})`);
        return;
      }
      case "drain-old": {
        const slot = await this.drain(step.name);
        this.log(slot ? `${step.name}: draining ${this.ctx.edge?.backend}/${slot}` : `${step.name}: not in the edge, nothing to drain`);
        return;
      }
      case "wait-drained":
        if (!this.drained.has(step.name)) return;
        this.log(`${step.name}: ${(await this.waitDrained(step.name)) ? "drained" : "still busy at drain timeout, stopping anyway"} (${since(start)})`);
        return;
      case "remove-old": {
        const removal = this.remove(step.name).then(
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

  private async startContainer(spec: ReplicaSpec, replica: number): Promise<void> {
    const opts = createOptions(spec, replica);
    const container = await this.ctx.docker.createContainer(opts);
    for (const net of spec.networks.slice(1)) {
      await this.ctx.docker.getNetwork(net.name).connect({ Container: container.id, EndpointConfig: { Aliases: net.aliases ?? [] } });
    }
    await container.start();
  }

  private async waitHealthy(name: string, replica: number): Promise<void> {
    const c = this.ctx.docker.getContainer(name);
    await pollUntil(
      async () => {
        const s = (await c.inspect()).State;
        if (s.Restarting || (!s.Running && s.Status !== "created")) {
          throw new ReplicaFailure(name, replica, `exited with code ${s.ExitCode}${s.Error ? ` (${s.Error})` : ""}`);
        }
        const health = s.Health?.Status;
        if (health === "unhealthy") throw new ReplicaFailure(name, replica, "is unhealthy");
        if (health === "healthy" || (health === undefined && s.Running)) return true;
        return undefined;
      },
      { timeoutMs: this.t.healthTimeoutMs, onTimeout: () => new ReplicaFailure(name, replica, `was not healthy within ${this.t.healthTimeoutMs} ms`) },
    );
  }

  /** The replica's address on a network it shares with the edge. */
  private async addressAtEdge(name: string): Promise<string | undefined> {
    if (!this.ctx.edge) return undefined;
    if (!this.edgeNetworks) {
      try {
        const edge = await this.ctx.docker.getContainer(this.ctx.edge.container).inspect();
        this.edgeNetworks = new Set(Object.keys(edge.NetworkSettings.Networks ?? {}));
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode !== 404) throw e;
        // Gone already (e.g. destroyed first): nothing routes to the replicas, so there is nothing to drain.
        this.log(`edge container ${this.ctx.edge.container} not found; edge steps skipped`);
        this.edgeNetworks = new Set();
      }
    }
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.ctx.docker.getContainer(name).inspect();
    } catch {
      return undefined;
    }
    for (const [net, ep] of Object.entries(info.NetworkSettings.Networks ?? {})) {
      if (this.edgeNetworks.has(net) && ep.IPAddress) return ep.IPAddress;
    }
    return undefined;
  }

  private async waitEdgeUp(name: string): Promise<string> {
    const { backend } = this.ctx.edge!;
    const replica = Number(name.split("-").pop()) || 0;
    const addr = await this.addressAtEdge(name);
    if (!addr) throw new ReplicaFailure(name, replica, `shares no network with the edge container ${this.ctx.edge!.container} (or that container does not exist)`);
    return pollUntil(
      async () => {
        const slot = (await this.edge!.serversState(backend)).find((s) => s.addr === addr);
        if (slot && slot.opState === OP_RUNNING && (slot.adminState & (ADMIN_FORCED_DRAIN | ADMIN_FORCED_MAINT)) === 0) return slot.name;
        return undefined;
      },
      { timeoutMs: this.t.edgeUpTimeoutMs, onTimeout: () => new ReplicaFailure(name, replica, `healthy in Docker but not UP at the edge (${backend}, ${addr}) within ${this.t.edgeUpTimeoutMs} ms`) },
    );
  }

  private async drain(name: string): Promise<string | undefined> {
    if (!this.edge || !this.ctx.edge) return undefined;
    const addr = await this.addressAtEdge(name);
    if (!addr) return undefined;
    const { backend } = this.ctx.edge;
    const slot = (await this.edge.serversState(backend)).find((s) => s.addr === addr);
    if (!slot) return undefined;
    await this.edge.setServerState(backend, slot.name, "drain");
    this.drained.set(name, { slot: slot.name, addr });
    return slot.name;
  }

  private async waitDrained(name: string): Promise<boolean> {
    const { slot } = this.drained.get(name)!;
    const { backend } = this.ctx.edge!;
    try {
      await pollUntil(
        async () => {
          const row = (await this.edge!.stat(backend)).find((s) => s.name === slot);
          return !row || (row.scur === 0 && row.qcur === 0) ? true : undefined;
        },
        { timeoutMs: this.t.drainTimeoutMs, intervalMs: 200, onTimeout: () => new Error("drain timeout") },
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Stops, hands the logs over, removes; then frees the slot once HAProxy has seen the address go. */
  private async remove(name: string): Promise<void> {
    const c = this.ctx.docker.getContainer(name);
    // Read the logs only once the process has exited: lines it still had buffered are flushed by then.
    await c.stop({ t: this.t.stopGraceSeconds }).catch(ignoreStatus(304, 404));
    if (this.ctx.onContainerLogs) {
      try {
        const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
        this.ctx.onContainerLogs(name, demuxLogs(raw));
      } catch (e) {
        this.log(`${name}: could not read logs before removal: ${(e as Error).message}`);
      }
    }
    await c.remove({ force: true, v: true }).catch(ignoreStatus(404));
    const drained = this.drained.get(name);
    if (!drained || !this.edge || !this.ctx.edge) return;
    // A slot keeps its drain flag across address changes, and Docker hands the freed IP to the next container:
    // reset it, but only after its checks saw the old address die, so "ready" never points at a dead replica.
    const { backend } = this.ctx.edge;
    await pollUntil(
      async () => {
        const s = (await this.edge!.serversState(backend)).find((x) => x.name === drained.slot);
        return !s || s.addr !== drained.addr || s.opState !== OP_RUNNING ? true : undefined;
      },
      { timeoutMs: 10_000, onTimeout: () => new Error("slot still UP") },
    ).catch(() => this.log(`edge: slot ${backend}/${drained.slot} still UP at ${drained.addr} 10 s after removal; setting it ready anyway`));
    await this.edge.setServerState(backend, drained.slot, "ready");
    this.drained.delete(name);
  }

  /** Puts back to "ready" any slot an interrupted run left in drain or maintenance. */
  async resetEdgeLeftovers(): Promise<void> {
    if (!this.edge || !this.ctx.edge) return;
    const { backend } = this.ctx.edge;
    for (const s of await this.edge.serversState(backend)) {
      if ((s.adminState & (ADMIN_FORCED_DRAIN | ADMIN_FORCED_MAINT)) !== 0) {
        await this.edge.setServerState(backend, s.name, "ready");
        this.log(`edge: slot ${backend}/${s.name} was left in drain/maint by an earlier run; set ready`);
      }
    }
  }

  /** Last health-check output and log tail of a failed replica, for the error message. */
  async diagnose(err: ReplicaFailure): Promise<string> {
    const c = this.ctx.docker.getContainer(err.container);
    let health = "no health-check result recorded";
    let logs = "(no logs)";
    try {
      const info = await c.inspect();
      const last = info.State.Health?.Log?.at(-1);
      if (last) health = `exit ${last.ExitCode}: ${last.Output.trim() || "(no output)"}`;
      const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      logs = tail(demuxLogs(raw), 20) || "(no logs)";
    } catch (e) {
      logs = `(could not read: ${(e as Error).message})`;
    }
    return `Last health check: ${health}\nLast log lines of ${err.container}:\n${indent(logs)}`;
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

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}

function ignoreStatus(...codes: number[]) {
  return (e: { statusCode?: number }) => {
    if (!codes.includes(e.statusCode ?? 0)) throw e;
  };
}
