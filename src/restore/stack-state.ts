// What restore needs to know about the stack around a database container, read from the Docker engine that runs
// it: the stack (the container's slipway.stack label, which the program puts on everything a stack owns), its
// running edges and whether maintenance is on there, its running API replicas and their images, and the networks
// the database is on. Decisions on it are restore-plan.ts's.
import type Docker from "dockerode";
import { maintenanceState } from "../edge/maintenance";
import { runningEdges } from "../edge/proxy";
import { LABEL_RESOURCE, LABEL_STACK } from "../vocabulary";
import type { ApiReplica, StackState } from "./plan";

/** The ReplicaSet service name of the API (infra/components/api-service.ts). */
export const API_SERVICE = "api";
const DEFAULT_NETWORKS = new Set(["bridge", "host", "none"]);

export async function observeStack(docker: Docker, dbContainer: string): Promise<StackState> {
  const db = await docker.getContainer(dbContainer).inspect();
  const stack = db.Config.Labels?.[LABEL_STACK] || undefined;
  const dbNetworks = Object.keys(db.NetworkSettings.Networks ?? {}).filter((n) => !DEFAULT_NETWORKS.has(n));
  if (stack === undefined) return { stack, edges: [], maintenanceBefore: undefined, api: [], dbNetworks };
  return observeStackOf(docker, stack, dbNetworks);
}

/** The same, for a stack whose database container is gone (known by its label): its edges and API replicas. */
export async function observeStackOf(docker: Docker, stack: string, dbNetworks: string[]): Promise<StackState> {
  const edges = await runningEdges(docker, stack);
  const maintenanceBefore = edges.length > 0 ? await maintenanceState(docker, stack) : undefined;
  const list = await docker.listContainers({ filters: { label: [`${LABEL_STACK}=${stack}`, `${LABEL_RESOURCE}=${API_SERVICE}`], status: ["running"] } });
  const api: ApiReplica[] = list.map((c) => ({ name: (c.Names[0] ?? c.Id).replace(/^\//, ""), image: c.Image, imageId: c.ImageID }));
  return { stack, edges, maintenanceBefore, api, dbNetworks };
}
