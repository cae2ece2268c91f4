// The replicas of a stack on a swarm, for `npm run status`: the serving release's service and its tasks as the
// manager lists them (node, state), and each task's slot at every edge task, read through the same relay a release
// uses (src/swarm/edge.ts: the edge's runtime API on the control overlay, from the manager only). report.ts judges.
import type Docker from "dockerode";
import { edgeStateOf, type EdgeState, type ReplicaStatus, type StatusReport } from "./report";
import { swarmMaintenanceStates } from "../swarm/maintenance";
import { openRelay } from "../swarm/edge";
import { swarmEdgeTarget } from "../swarm/spec";
import { serviceTasks } from "../swarm/tasks";
import type { ServerState } from "../edge/runtime-api";
import { LABEL_REVISION } from "../vocabulary";

/** A task's slot at each edge task (by node): UP only when UP at every one; otherwise the first that is not, named. */
export function edgeAcross(addresses: string[], edges: { node: string; slots: ServerState[] }[]): Pick<ReplicaStatus, "edge" | "slot" | "weight"> {
  if (edges.length === 0) return { edge: "absent" };
  const seen = edges.map((e) => {
    const slot = e.slots.find((s) => s.addr !== null && addresses.includes(s.addr));
    return { node: e.node, slot, state: (slot ? edgeStateOf(slot.adminState, slot.opState) : "absent") as EdgeState };
  });
  const bad = seen.find((s) => s.state !== "UP");
  const any = seen.find((s) => s.slot)?.slot;
  const weights = seen.flatMap((s) => (s.slot ? [s.slot.weight] : []));
  return {
    edge: bad ? bad.state : "UP",
    ...(any ? { slot: `${any.backend}/${any.name}${bad ? ` at the edge on ${bad.node}` : ` at ${edges.length} edge task${edges.length === 1 ? "" : "s"}`}` } : {}),
    ...(weights.length ? { weight: Math.min(...weights) } : {}),
  };
}

/** Pure: the edge tasks (their nodes) where a slot holding one of `addresses` (the blue-green standby's tasks) is UP — taking traffic. */
export function trafficAt(addresses: string[], edges: { node: string; slots: ServerState[] }[]): string[] {
  return edges.filter((e) => e.slots.some((s) => s.addr !== null && addresses.includes(s.addr) && edgeStateOf(s.adminState, s.opState) === "UP")).map((e) => e.node);
}

/**
 * Pure: maintenance across the edge tasks — the message when every task has it on (the same one), nothing when all have
 * it off, else `split`: where it is on (and with which message) and where off.
 */
export function maintenanceAcross(states: readonly { node: string; message?: string }[]): Pick<StatusReport, "maintenance" | "maintenanceSplit"> {
  const messages = new Set(states.map((s) => s.message));
  if (states.length === 0 || (messages.size === 1 && messages.has(undefined))) return {};
  const [only] = messages;
  if (messages.size === 1 && only !== undefined) return { maintenance: only };
  const on = states.filter((s) => s.message !== undefined).map((s) => `ON at ${s.node} ("${s.message}")`);
  const off = states.filter((s) => s.message === undefined).map((s) => s.node);
  return { maintenance: states.find((s) => s.message !== undefined)!.message!, maintenanceSplit: [...on, ...(off.length ? [`off at ${off.join(", ")}`] : [])].join("; ") };
}

/**
 * The serving release's tasks (`service`) with their edge state and maintenance at the edge tasks; `relayImage` runs the
 * relay (the edge image). With a blue-green `standby` service: the edge tasks where it takes traffic.
 */
export async function swarmReplicas(docker: Docker, prefix: string, service: string, relayImage: string, standby?: string): Promise<{ replicas: ReplicaStatus[] } & Pick<StatusReport, "maintenance" | "maintenanceSplit" | "standbyTraffic">> {
  const target = swarmEdgeTarget(prefix, relayImage);
  const [spec, tasks, standbyTasks] = await Promise.all([
    docker.getService(service).inspect() as Promise<{ Spec: { Labels?: Record<string, string>; TaskTemplate: { ContainerSpec: { Image: string } } } }>,
    serviceTasks(docker, service),
    standby ? serviceTasks(docker, standby).catch(() => []) : Promise.resolve([]),
  ]);
  const image = spec.Spec.TaskTemplate.ContainerSpec.Image.replace(/@sha256:[0-9a-f]+$/, "");
  const revision = spec.Spec.Labels?.[LABEL_REVISION] ?? "-";
  const relay = await openRelay(docker, prefix, target);
  let edges: { node: string; slots: ServerState[] }[];
  let maintenance: ReturnType<typeof maintenanceAcross>;
  try {
    const tasksAtEdge = await relay.edges();
    edges = await Promise.all(tasksAtEdge.map(async (e) => ({ node: e.node, slots: await e.runtime.serversState(target.backend) })));
    maintenance = maintenanceAcross(await swarmMaintenanceStates(tasksAtEdge));
  } finally {
    await relay.close();
  }
  const replicas = tasks
    .filter((t) => t.desired === "running")
    .map((t) => ({
      container: `${service}.${t.id.slice(0, 12)}`,
      node: t.node,
      // A task on a node the manager does not see Ready still reads "running" (its node is Down).
      state: t.state === "running" && !t.nodeReady ? "running, node down" : t.state,
      // Swarm reports a task "running" only once its health check passed.
      health: t.state === "running" ? "healthy" : "-",
      image,
      revision,
      ...edgeAcross(Object.values(t.addresses), edges),
    }));
  const standbyAddresses = standbyTasks.filter((t) => t.desired === "running").flatMap((t) => Object.values(t.addresses));
  const standbyTraffic = standby ? trafficAt(standbyAddresses, edges) : [];
  return { replicas, ...maintenance, ...(standbyTraffic.length ? { standbyTraffic } : {}) };
}
