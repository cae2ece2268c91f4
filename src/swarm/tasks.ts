// Swarm objects through the manager: services, their tasks, their logs, secrets, and one-off tasks run to their exit.
// Every call goes to the one engine dockerHost names (a manager): no node is reached directly.
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { demuxLogs, ignoreStatus, isStatus, readContainerFile, resolveIds, tail } from "../docker";
import { LABEL_STACK, pollUntil, sleep } from "../vocabulary";
import type { ObservedTask } from "./planner";
import { type FileOwner, oneOffServiceSpec, type OneOffSpec, type SecretRef, secretName } from "./spec";

interface RawTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ExitCode?: number } };
  NetworksAttachments?: { Network?: { Spec?: { Name?: string } }; Addresses?: string[] }[];
}

/** Node IDs → hostname and whether the manager sees the node Ready. */
async function nodeInfo(docker: Docker): Promise<Map<string, { name: string; ready: boolean }>> {
  const nodes = (await docker.listNodes()) as { ID: string; Description?: { Hostname?: string }; Status?: { State?: string } }[];
  return new Map(nodes.map((n) => [n.ID, { name: n.Description?.Hostname ?? n.ID, ready: n.Status?.State === "ready" }]));
}

/** The tasks of a service as the manager lists them (newest state of each). */
export async function serviceTasks(docker: Docker, service: string): Promise<ObservedTask[]> {
  const raw = (await docker.listTasks({ filters: { service: [service] } })) as RawTask[];
  const nodes = raw.some((t) => t.NodeID) ? await nodeInfo(docker) : new Map<string, { name: string; ready: boolean }>();
  return raw.map((t) => ({
    id: t.ID,
    node: t.NodeID ? (nodes.get(t.NodeID)?.name ?? t.NodeID) : "",
    nodeReady: t.NodeID ? (nodes.get(t.NodeID)?.ready ?? false) : false,
    state: t.Status?.State ?? "new",
    desired: t.DesiredState,
    ...(t.Status?.Err ? { error: t.Status.Err } : {}),
    ...(t.Status?.ContainerStatus?.ExitCode !== undefined && t.Status.State !== "running" ? { exitCode: t.Status.ContainerStatus.ExitCode } : {}),
    addresses: Object.fromEntries(
      (t.NetworksAttachments ?? [])
        .filter((a) => a.Network?.Spec?.Name && a.Addresses?.[0])
        .map((a) => [a.Network!.Spec!.Name!, a.Addresses![0]!.replace(/\/\d+$/, "")]),
    ),
  }));
}

/** The last lines a service's tasks logged (read through the manager, whichever node they ran on). */
export async function serviceLogTail(docker: Docker, service: string, lines = 20): Promise<string> {
  try {
    const buf = (await docker.getService(service).logs({ stdout: true, stderr: true, follow: false, tail: lines } as never)) as unknown as Buffer;
    return tail(demuxLogs(buf), lines) || "(no logs)";
  } catch (e) {
    return `(could not read the logs: ${(e as Error).message})`;
  }
}

/** Standard output of every task of `service` since `sinceSeconds` (Unix time), through the manager: the edge's access log. */
export async function serviceStdoutSince(docker: Docker, service: string, sinceSeconds: number): Promise<string> {
  return demuxLogs((await docker.getService(service).logs({ stdout: true, stderr: false, follow: false, since: sinceSeconds } as never)) as unknown as Buffer);
}

/** Sets a replicated service's task count (its spec otherwise unchanged: the same tasks stay). */
export async function scaleService(docker: Docker, service: string, replicas: number): Promise<void> {
  const s = docker.getService(service);
  const info = (await s.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
  await s.update({ _query: { version: info.Version.Index }, _body: { ...info.Spec, Mode: { Replicated: { Replicas: replicas } } } } as never);
}

/** Removes a service (absent: fine). */
export async function removeService(docker: Docker, service: string): Promise<void> {
  await docker.getService(service).remove().catch(ignoreStatus(404));
}

/** Resolves once no task of `service` has a container left (removed services' tasks take a while to stop). */
export async function waitServiceGone(docker: Docker, service: string, timeoutMs: number): Promise<void> {
  await pollUntil(async () => ((await serviceTasks(docker, service).catch(() => [])).length === 0 ? true : undefined), {
    timeoutMs,
    intervalMs: 1000,
    onTimeout: () => new Error(`service ${service}: its tasks were still listed ${timeoutMs} ms after its removal`),
  }).catch(() => undefined); // a task record outliving its container is harmless; the next steps do not need it gone
}

/** Creates (or finds: same name = same value, the name is an HMAC of it) the Swarm secrets of `owner`. */
export async function ensureSecrets(docker: Docker, stack: string, owner: string, secrets: Record<string, string>, key: string): Promise<SecretRef[]> {
  const refs: SecretRef[] = [];
  for (const file of Object.keys(secrets).sort()) {
    const name = secretName(owner, file, secrets[file]!, key);
    let id: string;
    try {
      const created = (await docker.createSecret({ Name: name, Labels: { [LABEL_STACK]: stack }, Data: Buffer.from(secrets[file]!, "utf8").toString("base64") })) as { id?: string; ID?: string };
      id = created.id ?? created.ID ?? "";
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
      id = ((await docker.getSecret(name).inspect()) as { ID: string }).ID;
    }
    refs.push({ name, file, id });
  }
  return refs;
}

/** Removes secrets once no service uses them (Swarm refuses while a task still mounts them: retried for a while). */
export async function removeSecrets(docker: Docker, names: string[], timeoutMs = 60_000): Promise<void> {
  for (const name of names) {
    await pollUntil(
      async () => {
        try {
          await docker.getSecret(name).remove();
          return true;
        } catch (e) {
          if (isStatus(e, 404)) return true;
          return undefined;
        }
      },
      { timeoutMs, intervalMs: 1000, onTimeout: () => new Error(`secret ${name} still in use`) },
    ).catch(() => undefined); // left behind: harmless (no value in its name), removed with the stack
  }
}

/** Secrets of the stack whose names start with `prefix` (what a service of that name made). */
export async function secretsNamed(docker: Docker, stack: string, prefix: string): Promise<string[]> {
  const list = (await docker.listSecrets({ filters: { label: [`${LABEL_STACK}=${stack}`] } })) as { Spec?: { Name?: string } }[];
  return list.map((s) => s.Spec?.Name ?? "").filter((n) => n.startsWith(`${prefix}-`));
}

/**
 * The numeric user and group `image` runs as (its /etc/passwd read from a created, never started, container on
 * the manager), so the secret files can be 0400 and still readable. root when it cannot be found.
 */
export async function imageOwner(docker: Docker, image: string, log: (line: string) => void): Promise<FileOwner> {
  let container: Docker.Container | undefined;
  try {
    const info = (await docker.getImage(image).inspect()) as { Config?: { User?: string } };
    const user = info.Config?.User ?? "";
    if (user === "" || user === "root") return { uid: 0, gid: 0 };
    if (/^\d+(:\d+)?$/.test(user)) return resolveIds(user, async () => undefined);
    container = await docker.createContainer({ Image: image, Entrypoint: ["true"], Cmd: [] });
    return await resolveIds(user, (path) => readContainerFile(container!, path));
  } catch (e) {
    log(`image ${image}: its user could not be resolved on the manager (${(e as Error).message}); secret files owned by root, mode 0400`);
    return { uid: 0, gid: 0 };
  } finally {
    await container?.remove({ force: true }).catch(() => undefined);
  }
}

export class OneOffFailure extends Error {}

/**
 * Runs `spec` once as a Swarm service with restart condition none: its secrets created for this run, the task
 * awaited to its end, its log tail read through the manager, the service and the secrets removed. Throws a
 * OneOffFailure naming the exit code, Swarm's error and the log tail when the task did not complete.
 */
export async function runOneOff(docker: Docker, spec: OneOffSpec, log: (line: string) => void): Promise<string> {
  const run = randomBytes(3).toString("hex");
  const owner = `${spec.stack}-${spec.name}-${run}`;
  const refs = await ensureSecrets(docker, spec.stack, owner, spec.secrets, spec.secretsKey);
  const ids = Object.keys(spec.secrets).length > 0 ? await imageOwner(docker, spec.image, log) : { uid: 0, gid: 0 };
  const request = oneOffServiceSpec(spec, run, refs, ids);
  const started = Date.now();
  try {
    await docker.createService(request as never);
    let last: ObservedTask | undefined;
    const outcome = await pollUntil(
      async () => {
        const tasks = await serviceTasks(docker, request.Name);
        last = tasks[0];
        if (!last) return undefined;
        if (last.state === "complete") return { ok: true as const };
        if (["failed", "rejected", "shutdown", "orphaned"].includes(last.state)) return { ok: false as const, task: last };
        return undefined;
      },
      { timeoutMs: spec.timeoutMs, intervalMs: 1000, onTimeout: () => new OneOffFailure(`${spec.name}: the task did not end within ${spec.timeoutMs} ms (last state: ${last?.state ?? "not scheduled"}${last?.error ? `, ${last.error}` : ""})`) },
    ).catch(async (e: Error) => ({ ok: false as const, timeout: e }));
    // Logs of a task that just ended can take a moment to reach the manager.
    await sleep(500);
    const logs = await serviceLogTail(docker, request.Name, 30);
    if (outcome.ok) {
      log(`${spec.name}: completed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return logs;
    }
    const why = "timeout" in outcome ? outcome.timeout.message : `${spec.name}: the task ${outcome.task.state} on ${outcome.task.node || "no node"}${outcome.task.exitCode !== undefined ? ` with exit code ${outcome.task.exitCode}` : ""}${outcome.task.error ? ` (${outcome.task.error})` : ""}`;
    throw new OneOffFailure(`${why}\nLast log lines:\n${logs.split("\n").map((l) => `  ${l}`).join("\n")}`);
  } finally {
    await removeService(docker, request.Name);
    await waitServiceGone(docker, request.Name, 60_000);
    await removeSecrets(docker, refs.map((r) => r.name));
  }
}
