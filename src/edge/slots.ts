// The replicas' places at the edge: HAProxy `server-template` slots, filled by Docker DNS. The rollout asks
// this module to wait until a new replica is UP, to drain an old one, to wait until it has no requests left, and
// to release its slot once it is gone; for blue-green, which replicas get traffic (weights: a free slot is given
// weight 0 before a staged replica starts, so it lands idle; a switch sets all weights in one command line). It owns which slots it drained (kamal-proxy's Target owns its draining
// state the same way). Every running HAProxy of the stack is addressed — one normally, two during a handover.
import type Docker from "dockerode";
import type { RolloutTimeouts } from "../../stacks/schema";
import { demuxLogs } from "../docker";
import { pollUntil } from "../vocabulary";
import { runningEdges } from "./proxy";
import { ADMIN_FORCED_DRAIN, ADMIN_FORCED_MAINT, edgeRuntime, type EdgeRuntime, OP_RUNNING, type SlotWeight } from "./runtime-api";

export interface EdgeTarget {
  /** `slipway.stack` label of the stack's edge containers. */
  stack: string;
  /** Backend whose `server-template` slots the replicas fill. */
  backend: string;
}

/** The edge steps' budgets (api.rollout.edgeUpTimeoutMs, drainTimeoutMs in stacks/schema.ts). */
export type SlotTimeouts = Pick<RolloutTimeouts, "edgeUpTimeoutMs" | "drainTimeoutMs">;

interface Drained {
  edge: EdgeRuntime;
  slot: string;
  addr: string;
}

const usable = (adminState: number) => (adminState & (ADMIN_FORCED_DRAIN | ADMIN_FORCED_MAINT)) === 0;

export class EdgeSlots {
  private readonly drained = new Map<string, Drained[]>();

  constructor(
    private readonly docker: Docker,
    readonly target: EdgeTarget,
    private readonly t: SlotTimeouts,
    private readonly log: (line: string) => void,
    /** The weight a freed slot gets back: "full" (rolling: a new replica is live once UP) or "idle" (blue-green). */
    private readonly freeWeight: "idle" | "full" = "full",
  ) {}

  /** Address → weight and configured weight, for every slot with an address on any running edge (the highest across edges). */
  async weights(): Promise<Map<string, { weight: number; full: number }>> {
    const out = new Map<string, { weight: number; full: number }>();
    for (const edge of await this.edges()) {
      for (const s of await edge.serversState(this.target.backend)) {
        if (s.addr !== null && s.weight >= (out.get(s.addr)?.weight ?? 0)) out.set(s.addr, { weight: s.weight, full: s.fullWeight });
      }
    }
    return out;
  }

  /** Gives every slot without an address `weight` (before a replica starts: where it lands, it gets that). */
  async setFreeSlots(weight: "idle" | "full" = this.freeWeight): Promise<void> {
    const { backend } = this.target;
    for (const edge of await this.edges()) {
      const free = (await edge.serversState(backend)).filter((s) => s.addr === null && (weight === "idle") !== (s.weight === 0));
      await edge.setWeights(backend, free.map((s) => ({ slot: s.name, weight })));
    }
  }

  /** Sends all new requests to `live` and none to `idle` (containers), on every edge at once. */
  async route(live: string[], idle: string[]): Promise<void> {
    await this.setWeights([...live.map((c) => ({ container: c, weight: "full" as const })), ...idle.map((c) => ({ container: c, weight: "idle" as const }))]);
  }

  /**
   * Sets containers' weights on every edge, each edge in one command line; then checks they took. Throws if a
   * container has no slot on an edge.
   */
  async setWeights(assignments: { container: string; weight: SlotWeight }[]): Promise<void> {
    const edges = await this.edges();
    if (edges.length === 0) return;
    const { backend } = this.target;
    const want = new Map<string, SlotWeight>();
    for (const { container, weight } of assignments) {
      const addr = await this.addressOf(container, edges[0].container);
      if (!addr) throw new Error(`${container} shares no network with the edge ${edges[0].container}`);
      want.set(addr, weight);
    }
    for (const edge of edges) {
      const state = await edge.serversState(backend);
      const weights = [...want].map(([addr, weight]) => {
        const slot = state.find((s) => s.addr === addr);
        if (!slot) throw new Error(`edge ${edge.container}: no slot of ${backend} has address ${addr}`);
        return { slot, weight };
      });
      await edge.setWeights(backend, weights.map((w) => ({ slot: w.slot.name, weight: w.weight })));
      const after = await edge.serversState(backend);
      for (const { slot, weight } of weights) {
        const now = after.find((s) => s.name === slot.name)?.weight;
        const expected = weight === "idle" ? 0 : weight === "full" ? slot.fullWeight : weight;
        if (now !== expected) throw new Error(`edge ${edge.container}: ${backend}/${slot.name} has weight ${now}, not ${expected}`);
      }
    }
  }

  /**
   * The access-log lines every running edge wrote since `sinceSeconds` (Unix time), with, per edge, which
   * container each slot name stood for — so a line's `server` can be told canary or stable.
   */
  async accessLog(sinceSeconds: number, containers: string[]): Promise<{ text: string; slotOf: Map<string, string> }[]> {
    const edges = await this.edges();
    const out: { text: string; slotOf: Map<string, string> }[] = [];
    for (const edge of edges) {
      const state = await edge.serversState(this.target.backend);
      const slotOf = new Map<string, string>();
      for (const c of containers) {
        const addr = await this.addressOf(c, edge.container);
        const slot = state.find((s) => s.addr === addr);
        if (slot) slotOf.set(slot.name, c);
      }
      const raw = (await this.docker.getContainer(edge.container).logs({ stdout: true, stderr: false, follow: false, since: sinceSeconds })) as unknown as Buffer;
      out.push({ text: demuxLogs(raw), slotOf });
    }
    return out;
  }

  /** Waits until every running edge has `replica` UP and usable; returns its slot(s), e.g. "api/api3". */
  async waitUp(replica: string): Promise<string> {
    const edges = await this.edges();
    if (edges.length === 0) throw new Error(`no running edge of ${this.target.stack} to route to it`);
    const addr = await this.addressOf(replica, edges[0].container);
    if (!addr) throw new Error(`shares no network with the edge ${edges[0].container}`);
    const { backend } = this.target;
    const slots: string[] = [];
    for (const edge of edges) {
      slots.push(
        await pollUntil(
          async () => {
            const s = (await edge.serversState(backend)).find((x) => x.addr === addr);
            return s && s.opState === OP_RUNNING && usable(s.adminState) ? `${backend}/${s.name}` : undefined;
          },
          { timeoutMs: this.t.edgeUpTimeoutMs, onTimeout: () => new Error(`healthy in Docker but not UP at the edge ${edge.container} (${backend}, ${addr}) within ${this.t.edgeUpTimeoutMs} ms`) },
        ),
      );
    }
    return [...new Set(slots)].join(", ");
  }

  /** Puts `replica`'s slot in drain on every edge (new requests go elsewhere); the slot(s), or undefined if none. */
  async drain(replica: string): Promise<string | undefined> {
    const edges = await this.edges();
    if (edges.length === 0) return undefined;
    const addr = await this.addressOf(replica, edges[0].container);
    if (!addr) return undefined;
    const { backend } = this.target;
    const done: Drained[] = [];
    for (const edge of edges) {
      const slot = (await edge.serversState(backend)).find((s) => s.addr === addr);
      if (!slot) continue;
      await edge.setServerState(backend, slot.name, "drain");
      done.push({ edge, slot: slot.name, addr });
    }
    if (done.length === 0) return undefined;
    this.drained.set(replica, done);
    return [...new Set(done.map((d) => `${backend}/${d.slot}`))].join(", ");
  }

  isDrained(replica: string): boolean {
    return this.drained.has(replica);
  }

  /** Waits until no edge has a request in flight or queued for `replica`; false if the drain timeout passed. */
  async waitDrained(replica: string): Promise<boolean> {
    const { backend } = this.target;
    try {
      for (const d of this.drained.get(replica) ?? []) {
        await pollUntil(
          async () => {
            const row = (await d.edge.stat(backend)).find((s) => s.name === d.slot);
            return !row || (row.scur === 0 && row.qcur === 0) ? true : undefined;
          },
          { timeoutMs: this.t.drainTimeoutMs, intervalMs: 200, onTimeout: () => new Error("drain timeout") },
        );
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * After `replica` is gone: sets its slot(s) back to ready. A slot keeps its drain flag across address changes
   * and Docker hands the freed IP to the next container, so it must be reset — but only after the edge saw the
   * old address die, so "ready" never points at a dead replica.
   */
  async release(replica: string): Promise<void> {
    const { backend } = this.target;
    for (const d of this.drained.get(replica) ?? []) {
      await pollUntil(
        async () => {
          const s = (await d.edge.serversState(backend)).find((x) => x.name === d.slot);
          return !s || s.addr !== d.addr || s.opState !== OP_RUNNING ? true : undefined;
        },
        { timeoutMs: 10_000, onTimeout: () => new Error("slot still UP") },
      ).catch(() => this.log(`edge: slot ${backend}/${d.slot} still UP at ${d.addr} 10 s after removal; setting it ready anyway`));
      await d.edge.setServerState(backend, d.slot, "ready").catch((e: Error) => this.log(`edge ${d.edge.container}: could not reset ${backend}/${d.slot}: ${e.message}`));
      await d.edge.setWeights(backend, [{ slot: d.slot, weight: this.freeWeight }]).catch((e: Error) => this.log(`edge ${d.edge.container}: could not reset the weight of ${backend}/${d.slot}: ${e.message}`));
    }
    this.drained.delete(replica);
  }

  /** Puts back to "ready" any slot an interrupted run left in drain or maintenance. */
  async resetLeftovers(): Promise<void> {
    const { backend } = this.target;
    for (const edge of await this.edges()) {
      for (const s of await edge.serversState(backend)) {
        if (!usable(s.adminState)) {
          await edge.setServerState(backend, s.name, "ready");
          this.log(`edge ${edge.container}: slot ${backend}/${s.name} was left in drain/maint by an earlier run; set ready`);
        }
      }
    }
  }

  private async edges(): Promise<EdgeRuntime[]> {
    return (await runningEdges(this.docker, this.target.stack)).map((name) => edgeRuntime(this.docker, name));
  }

  /** `replica`'s address on a network it shares with the edge (HAProxy may live in a holder's namespace). */
  private async addressOf(replica: string, edge: string): Promise<string | undefined> {
    const networks = await this.edgeNetworks(edge);
    const info = await this.docker.getContainer(replica).inspect().catch(() => undefined);
    for (const [net, ep] of Object.entries(info?.NetworkSettings.Networks ?? {})) {
      if (networks.has(net) && ep.IPAddress) return ep.IPAddress;
    }
    return undefined;
  }

  private async edgeNetworks(edge: string): Promise<Set<string>> {
    let info = await this.docker.getContainer(edge).inspect();
    const mode = info.HostConfig.NetworkMode ?? "";
    if (mode.startsWith("container:")) info = await this.docker.getContainer(mode.slice("container:".length)).inspect();
    return new Set(Object.keys(info.NetworkSettings.Networks ?? {}));
  }
}
