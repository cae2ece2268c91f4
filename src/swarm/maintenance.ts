// Maintenance mode on a swarm (`npm run maintenance` with target swarm): the same map entry as on one host, set through
// the runtime API of every edge task, reached from the manager through the relay (src/swarm/edge.ts). Each task keeps
// its own map file (EDGE_MAINTENANCE_MAP) and writes the entry back into it before every reload, so a config change
// keeps maintenance on; a new edge task (an edge image change, a node back) starts with it off — `status` names an edge
// task whose state differs from the others', and running the verb again sets it there too.
import type Docker from "dockerode";
import { applyMaintenance, maintenanceMapFile, maintenanceOfShowMap } from "../edge/maintenance";
import { type EdgeTask, edgeTasks, openRelay } from "./edge";
import { EDGE_MAINTENANCE_MAP } from "./edge-config";
import type { SwarmEdgeTarget } from "./spec";

/** Turns maintenance on or off at every edge task of the stack; returns the nodes it was set on. */
export async function setSwarmMaintenance(docker: Docker, prefix: string, edge: SwarmEdgeTarget, on: boolean, message: string, timeoutMs = 60_000): Promise<string[]> {
  maintenanceMapFile(on, message); // one line, or refused before anything changes
  const relay = await openRelay(docker, prefix, edge);
  try {
    const tasks = await edgeTasks(relay, edge, timeoutMs);
    for (const t of tasks) await applyMaintenance(t.runtime, `${edge.service} on ${t.node}`, on, message, EDGE_MAINTENANCE_MAP);
    return tasks.map((t) => t.node);
  } finally {
    await relay.close();
  }
}

/** Each edge task's maintenance message (undefined: off), by node. */
export async function swarmMaintenanceStates(tasks: readonly EdgeTask[]): Promise<{ node: string; message?: string }[]> {
  return Promise.all(
    tasks.map(async (t) => {
      const message = maintenanceOfShowMap(await t.runtime.command(`show map ${EDGE_MAINTENANCE_MAP}`));
      return { node: t.node, ...(message !== undefined ? { message } : {}) };
    }),
  );
}
