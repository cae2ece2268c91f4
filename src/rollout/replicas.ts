// The replicas as Docker containers: observe them, start one, wait until Docker says it is healthy, stop and
// remove one (handing its logs over first), and explain a failed one. No edge and no planning here.
import type Docker from "dockerode";
import { containerLogs, ignoreStatus, putSecretFiles, tail } from "../docker";
import { LABEL_REPLICA, LABEL_RESOURCE, LABEL_REVISION, LABEL_STACK, pollUntil } from "../vocabulary";
import { healthFromStatus, type ObservedContainer } from "./planner";
import { createOptions, type ReplicaSpec } from "./spec";

/** A new replica did not start or become healthy: which one, and why (its number comes from its label). */
export class ReplicaFailure extends Error {
  constructor(readonly container: string, readonly replica: number, readonly reason: string) {
    super(`${container}: ${reason}`);
  }
}

/** A replica as Docker lists it, with its addresses (how the edge knows it). */
export type ListedContainer = ObservedContainer & { addresses: string[] };

export async function observe(docker: Docker, stack: string, service: string): Promise<ListedContainer[]> {
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
    addresses: Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).filter((a) => !!a),
  }));
}

/** Creates replica number `replica` of `spec`, writes its secret files, attaches its other networks, starts it. */
export async function startReplica(docker: Docker, spec: ReplicaSpec, replica: number): Promise<void> {
  const container = await docker.createContainer(createOptions(spec, replica));
  await putSecretFiles(container, spec.secrets ?? {});
  for (const net of spec.networks.slice(1)) {
    await docker.getNetwork(net.name).connect({ Container: container.id, EndpointConfig: { Aliases: net.aliases ?? [] } });
  }
  await container.start();
}

/** Resolves when Docker reports `name` healthy; throws a ReplicaFailure when it exits, turns unhealthy or times out. */
export async function waitHealthy(docker: Docker, name: string, replica: number, timeoutMs: number): Promise<void> {
  const c = docker.getContainer(name);
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
    { timeoutMs, onTimeout: () => new ReplicaFailure(name, replica, `was not healthy within ${timeoutMs} ms`) },
  );
}

/** Stops (SIGTERM, then SIGKILL after the grace), hands the logs to `onLogs`, removes. */
export async function removeReplica(docker: Docker, name: string, graceSeconds: number, onLogs?: (name: string, logs: string) => void): Promise<void> {
  const c = docker.getContainer(name);
  await c.stop({ t: graceSeconds }).catch(ignoreStatus(304, 404));
  // Read the logs only once the process has exited: lines it still had buffered are flushed by then.
  if (onLogs) onLogs(name, await containerLogs(docker, name).catch((e: Error) => `(could not read logs before removal: ${e.message})`));
  await c.remove({ force: true, v: true }).catch(ignoreStatus(404));
}

/** Last health-check output and log tail of a failed replica, for the error message. */
export async function diagnose(docker: Docker, name: string): Promise<string> {
  let health = "no health-check result recorded";
  let logs = "(no logs)";
  try {
    const last = (await docker.getContainer(name).inspect()).State.Health?.Log?.at(-1);
    if (last) health = `exit ${last.ExitCode}: ${last.Output.trim() || "(no output)"}`;
    logs = tail(await containerLogs(docker, name), 20) || "(no logs)";
  } catch (e) {
    logs = `(could not read: ${(e as Error).message})`;
  }
  return `Last health check: ${health}\nLast log lines of ${name}:\n${logs.split("\n").map((l) => `  ${l}`).join("\n")}`;
}
