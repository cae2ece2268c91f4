// The replicas' places at the edge: HAProxy `server-template` slots, filled by Docker DNS. The rollout asks
// this module to wait until a new replica is UP, to drain an old one, to wait until it has no requests left, and
// to release its slot once it is gone; for blue-green, which replicas get traffic (weights: a free slot is given
// weight 0 before a staged replica starts, so it lands idle; a switch sets all weights in one command line). It owns which slots it drained (kamal-proxy's Target owns its draining
// state the same way). Every running HAProxy of the stack is addressed — one normally, two during a handover.
import type Docker from "dockerode";
import { pollUntil } from "../rollout/wait";
import { runningEdges } from "./proxy";
import { ADMIN_FORCED_DRAIN, ADMIN_FORCED_MAINT, edgeRuntime, type EdgeRuntime, OP_RUNNING, type SlotWeight } from "./runtime-api";

export interface EdgeTarget {
  /** `slipway.stack` label of the stack's edge containers. */
  stack: string;
  /** Backend whose `server-template` slots the replicas fill. */
  backend: string;
}

export interface SlotTimeouts {
  /** From healthy until HAProxy reports the replica UP. */
  edgeUpTimeoutMs: number;
  /** From drain until the replica has no sessions left (then it is stopped anyway). */
  drainTimeoutMs: number;
}

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
    private readonly freeWeight: SlotWeight = "full",
  ) {}

  /** Address → weight, for every slot with an address on any running edge (the highest weight across edges). */
  async weights(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const edge of await this.edges()) {
      for (const s of await edge.serversState(this.target.backend)) {
        if (s.addr !== null) out.set(s.addr, Math.max(out.get(s.addr) ?? 0, s.weight));
      }
    }
    return out;
  }

  /** Gives every slot without an address the free weight (before a replica starts: where it lands, it gets that). */
  async setFreeSlots(): Promise<void> {
    const { backend } = this.target;
    for (const edge of await this.edges()) {
      const free = (await edge.serversState(backend)).filter((s) => s.addr === null && (this.freeWeight === "idle") !== (s.weight === 0));
      await edge.setWeights(backend, free.map((s) => ({ slot: s.name, weight: this.freeWeight })));
    }
  }

  /**
   * Sends all new requests to `live` and none to `idle` (containers), on every edge, each edge in one command
   * line; then checks the weights took. Throws if a container has no slot on an edge.
   */
  async route(live: string[], idle: string[]): Promise<void> {
    const edges = await this.edges();
    if (edges.length === 0) return;
    const { backend } = this.target;
    const want = new Map<string, SlotWeight>();
    for (const [names, weight] of [[live, "full"], [idle, "idle"]] as const) {
      for (const name of names) {
        const addr = await this.addressOf(name, edges[0].container);
        if (!addr) throw new Error(`${name} shares no network with the edge ${edges[0].container}`);
        want.set(addr, weight);
      }
    }
    for (const edge of edges) {
      const state = await edge.serversState(backend);
      const weights = [...want].map(([addr, weight]) => {
        const slot = state.find((s) => s.addr === addr);
        if (!slot) throw new Error(`edge ${edge.container}: no slot of ${backend} has address ${addr}`);
        return { slot: slot.name, weight };
      });
      await edge.setWeights(backend, weights);
      const after = await edge.serversState(backend);
      for (const w of weights) {
        const now = after.find((s) => s.name === w.slot)?.weight;
        if ((w.weight === "idle") !== (now === 0)) throw new Error(`edge ${edge.container}: ${backend}/${w.slot} has weight ${now} after the switch`);
      }
    }
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
