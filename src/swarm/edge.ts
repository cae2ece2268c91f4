// The edge's runtime API on Swarm, reached from the manager only: HAProxy's admin socket is forwarded to TCP on each
// edge task's address on the control overlay (a network no API task is on; never published), and a short-lived
// relay container on the manager, attached to that overlay, speaks to each task with `socat` (docker exec).
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { execText, ignoreStatus } from "../docker";
import { type EdgeRuntime, runtimeOver, SOCAT_ANSWER_TIMEOUT_S } from "../edge/runtime-api";
import { LABEL_ROLE, LABEL_STACK, pollUntil } from "../vocabulary";
import type { SwarmEdgeTarget } from "./spec";
import { serviceTasks } from "./tasks";

export interface EdgeTask {
  node: string;
  address: string;
  runtime: EdgeRuntime;
}

export interface Relay {
  /** One runtime-API client per running edge task (found through the manager's task list). */
  edges(): Promise<EdgeTask[]>;
  /** Removes the relay container. */
  close(): Promise<void>;
}

/** Starts the relay (the edge image: it has socat) on the manager, attached to the control overlay. */
export async function openRelay(docker: Docker, stack: string, edge: SwarmEdgeTarget): Promise<Relay> {
  const name = `${stack}-edge-relay-${randomBytes(3).toString("hex")}`;
  const container = await docker.createContainer({
    name,
    Image: edge.relayImage,
    Entrypoint: ["sleep"],
    Cmd: ["3600"],
    Labels: { [LABEL_STACK]: stack, [LABEL_ROLE]: "edge-relay" },
    HostConfig: { NetworkMode: edge.controlNetwork, AutoRemove: false, CapDrop: ["ALL"], ReadonlyRootfs: true },
  });
  await container.start();
  return {
    async edges() {
      // The edge tasks Swarm wants running on Ready nodes; none while one of them is still starting (a release waits).
      const wanted = (await serviceTasks(docker, edge.service)).filter((t) => t.desired === "running" && t.nodeReady);
      if (wanted.some((t) => t.state !== "running" || !t.addresses[edge.controlNetwork])) return [];
      const tasks = wanted;
      return tasks.map((t) => {
        const address = t.addresses[edge.controlNetwork]!;
        const command = (cmd: string) => execText(docker, name, ["socat", `-t${SOCAT_ANSWER_TIMEOUT_S}`, "stdio", `tcp:${address}:${edge.runtimePort},connect-timeout=5`], `${cmd}\n`, 20_000);
        return { node: t.node, address, runtime: runtimeOver(`${edge.service} on ${t.node} (${address})`, command) };
      });
    },
    async close() {
      await container.remove({ force: true }).catch(ignoreStatus(404));
    },
  };
}

/** The edge tasks, waiting (up to `timeoutMs`) while one of them is still starting. */
export async function edgeTasks(relay: Relay, edge: SwarmEdgeTarget, timeoutMs: number): Promise<EdgeTask[]> {
  return pollUntil(async () => {
    const tasks = await relay.edges();
    return tasks.length > 0 ? tasks : undefined;
  }, { timeoutMs, intervalMs: 1000, onTimeout: () => new Error(`no running task of ${edge.service} answered within ${timeoutMs} ms (one still starting, or none scheduled): deploy the stack first, or retry`) });
}
