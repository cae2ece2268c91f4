// The edge's HAProxy processes. A small, long-lived *holder* container owns the network namespace and the
// published port; HAProxy runs in a container of its own inside that namespace (`--network container:<holder>`).
// That split is what lets every edge change go through without dropping a request:
// - a change of haproxy.cfg is a seamless reload of the running HAProxy (master-worker: the master hands the
//   listening sockets to the new worker; the old worker finishes what it has), after saving the servers' state
//   so the new worker starts with every replica's address and UP/drain state;
// - a change of the HAProxy container itself (image, limits) is a handover: a new HAProxy container starts in
//   the same namespace with the same state and binds the same port beside the old one (SO_REUSEPORT); once it
//   answers with the same servers UP, the old one is soft-stopped (SIGUSR1: it stops accepting, finishes its
//   requests, exits) and removed.
// If the new config or container fails its checks, the running one is left serving and the error says why.
import type Docker from "dockerode";
import type { RestartPolicy } from "../../stacks/schema";
import { execText, firstFileOfTar, ignoreStatus, isStatus, tarOneFile } from "../docker";
import { LABEL_ROLE, LABEL_STACK, logConfig, type LogRotation, pollUntil, revisionOf, revisionShort, ROLES, since } from "../vocabulary";

import { ADMIN_SOCKET, CONFIG_PATH, MAINTENANCE_MAP, MASTER_SOCKET, SERVER_STATE_FILE, TLS_PEM } from "./haproxy-config";
import { edgeRuntime, OP_RUNNING, parseServersState, SOCAT_ANSWER_TIMEOUT_S } from "./runtime-api";

const LABEL_EDGE_REVISION = "slipway.edge-revision";

export interface EdgeProxySpec {
  /** Value of the `slipway.stack` label of everything the stack owns (also the container name prefix). */
  stack: string;
  /** The holder container whose network namespace (and published port) HAProxy joins. */
  holder: string;
  image: string;
  /** haproxy.cfg, as rendered by renderHaproxyConfig. */
  config: string;
  /** Certificate chain + private key (PEM) for HTTPS, when the config has TLS. A Pulumi secret upstream. */
  tlsPem?: string;
  memoryMb?: number;
  cpus?: number;
  restartPolicy: RestartPolicy;
  labels?: Record<string, string>;
  logs?: LogRotation;
}

export interface HandoverTimeouts {
  /** A new HAProxy (or worker) must answer with the old one's servers UP within this. */
  readyTimeoutMs: number;
  /** The old HAProxy gets this long to finish its requests after SIGUSR1, then it is killed. */
  stopTimeoutMs: number;
}

export interface EdgeContext {
  docker: Docker;
  timeouts: HandoverTimeouts;
  log: (line: string) => void;
}

export interface ObservedEdge {
  name: string;
  revision: string;
  running: boolean;
}

/** What needs a new HAProxy container when it changes; the config and the certificate do not (they are reloaded). */
export function edgeRevision(spec: EdgeProxySpec): string {
  const { config: _config, tlsPem: _tlsPem, ...container } = spec;
  return revisionOf(container);
}

export function edgeContainerName(spec: EdgeProxySpec): string {
  return `${spec.stack}-haproxy-${revisionShort(edgeRevision(spec))}`;
}

const dirOf = (path: string) => path.slice(0, path.lastIndexOf("/"));

/**
 * The only directories an edge writes to: the config, certificate and maintenance map (slipway uploads them), the
 * servers' state and the candidate files of a config check, and the runtime-API sockets. Each is an anonymous volume
 * of the container's own, declared like an image's VOLUME (`Volumes`, not `HostConfig.Mounts`): Docker fills it from
 * the image — files and the directory's owner, `haproxy` where the image says so — when the container is created,
 * before slipway's uploads (a volume of `Mounts` is filled at start, and only if still empty); it accepts uploads
 * before start (a tmpfs exists only while the container runs; the root filesystem refuses them); it goes with the
 * container (`remove({ v: true })`).
 */
export const EDGE_WRITABLE_DIRS = [...new Set([CONFIG_PATH, TLS_PEM, MAINTENANCE_MAP, SERVER_STATE_FILE, ADMIN_SOCKET, MASTER_SOCKET].map(dirOf))];

/**
 * How every HAProxy container runs, whatever the stack says: a read-only root filesystem (writable: EDGE_WRITABLE_DIRS),
 * no Linux capabilities (it runs as the image's user `haproxy` and binds 8080, 8443 and 8405 only, inside the holder's
 * namespace; the holder publishes the ports) and no privilege gain through setuid binaries. Not part of the edge's
 * revision, like the replicas' (src/rollout/spec.ts): a running edge is not handed over for it; every HAProxy a
 * deploy starts from now on (a change of the edge image or limits) runs this way.
 */
export const EDGE_LOCKED_DOWN = {
  ReadonlyRootfs: true,
  CapDrop: ["ALL"],
  SecurityOpt: ["no-new-privileges"],
} as const;

/** The container request for a new HAProxy of `spec` (pure; tested). */
export function edgeCreateOptions(spec: EdgeProxySpec): Docker.ContainerCreateOptions {
  return {
    name: edgeContainerName(spec),
    Image: spec.image,
    // The official image's entrypoint adds `-W -db` itself; the repetition is harmless and keeps images whose
    // entrypoint does not (our local stand-in) in master-worker mode too. -S: the master CLI, for `reload`.
    Cmd: ["haproxy", "-W", "-db", "-S", MASTER_SOCKET, "-f", CONFIG_PATH],
    Labels: { ...(spec.labels ?? {}), [LABEL_STACK]: spec.stack, [LABEL_ROLE]: ROLES.edge, [LABEL_EDGE_REVISION]: edgeRevision(spec) },
    Volumes: Object.fromEntries(EDGE_WRITABLE_DIRS.map((dir) => [dir, {}])),
    HostConfig: {
      ...EDGE_LOCKED_DOWN,
      NetworkMode: `container:${spec.holder}`,
      ...(spec.logs ? { LogConfig: logConfig(spec.logs) } : {}),
      ...(spec.memoryMb ? { Memory: Math.round(spec.memoryMb * 1024 * 1024), MemorySwap: Math.round(spec.memoryMb * 1024 * 1024) } : {}),
      ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
      RestartPolicy: { Name: spec.restartPolicy, ...(spec.restartPolicy === "on-failure" ? { MaximumRetryCount: 3 } : {}) },
    },
  };
}

export async function observeEdges(docker: Docker, stack: string): Promise<ObservedEdge[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_STACK}=${stack}`, `${LABEL_ROLE}=${ROLES.edge}`] } });
  return list.map((c) => ({
    name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
    revision: c.Labels[LABEL_EDGE_REVISION] ?? "",
    running: c.State === "running",
  }));
}

/** The running HAProxy containers of `stack` (one, or two in the middle of a handover). */
export async function runningEdges(docker: Docker, stack: string): Promise<string[]> {
  return (await observeEdges(docker, stack)).filter((e) => e.running).map((e) => e.name);
}

/**
 * Brings the edge of `spec.stack` to exactly one running HAProxy of `spec`, with `spec.config` loaded, and
 * returns its container name. Converges from anything an interrupted run left (two edges, a stopped one, an
 * old config).
 */
export async function applyEdge(ctx: EdgeContext, spec: EdgeProxySpec): Promise<string> {
  const want = edgeContainerName(spec);
  const all = await observeEdges(ctx.docker, spec.stack);
  for (const e of all.filter((e) => !e.running)) await removeEdge(ctx, e.name);
  const running = all.filter((e) => e.running).map((e) => e.name);

  if (running.includes(want)) {
    const config = await execText(ctx.docker, want, ["cat", CONFIG_PATH]);
    const pem = spec.tlsPem === undefined ? undefined : await execText(ctx.docker, want, ["cat", TLS_PEM]).catch(() => "");
    if (config !== spec.config || pem !== spec.tlsPem) await reload(ctx, want, spec);
  } else {
    await handover(ctx, spec, running);
  }
  for (const other of running.filter((n) => n !== want)) await softStop(ctx, other);
  return want;
}

export async function removeAllEdges(ctx: EdgeContext, stack: string): Promise<void> {
  for (const e of await observeEdges(ctx.docker, stack)) {
    if (e.running) await softStop(ctx, e.name);
    else await removeEdge(ctx, e.name);
  }
}

/** Checks config (and certificate) with HAProxy itself, inside `container`, before they are put in place. */
async function checkConfig(ctx: EdgeContext, container: string, spec: EdgeProxySpec): Promise<void> {
  const candidate = `${SERVER_STATE_FILE}.candidate.cfg`;
  let config = spec.config;
  if (spec.tlsPem !== undefined) {
    const pem = `${SERVER_STATE_FILE}.candidate.pem`;
    await putKeyFile(ctx.docker, container, pem, spec.tlsPem);
    config = config.split(TLS_PEM).join(pem);
  }
  await putFile(ctx.docker, container, candidate, config);
  try {
    await execText(ctx.docker, container, ["haproxy", "-c", "-q", "-f", candidate], undefined, 30_000);
  } catch (e) {
    throw new Error(`the new edge configuration or certificate is invalid; the edge keeps its current one. HAProxy says: ${(e as Error).message}`);
  } finally {
    await execText(ctx.docker, container, ["rm", "-f", candidate, `${SERVER_STATE_FILE}.candidate.pem`]).catch(() => undefined);
  }
}

/** Saves `container`'s view of the servers so the next process (worker or container) starts from it. */
async function serversState(ctx: EdgeContext, container: string): Promise<string> {
  return edgeRuntime(ctx.docker, container).command("show servers state");
}

async function reload(ctx: EdgeContext, container: string, spec: EdgeProxySpec): Promise<void> {
  const start = Date.now();
  await checkConfig(ctx, container, spec);
  // One snapshot: what the new worker starts from is also what must still be UP after the reload.
  const state = await serversState(ctx, container);
  const before = upAddresses(state);
  await putFile(ctx.docker, container, SERVER_STATE_FILE, state);
  if (spec.tlsPem !== undefined) await putKeyFile(ctx.docker, container, TLS_PEM, spec.tlsPem);
  await putFile(ctx.docker, container, CONFIG_PATH, spec.config);
  const answer = await execText(ctx.docker, container, ["socat", `-t${SOCAT_ANSWER_TIMEOUT_S}`, "stdio", `unix-connect:${MASTER_SOCKET}`], "reload\n", 60_000);
  // HAProxy ≥ 2.7 answers `Success=1` (or `Success=0` and the startup messages) on the master CLI.
  if (/Success=0/.test(answer)) throw new Error(`edge ${container}: reload failed; the previous worker keeps serving. HAProxy says:\n${answer.trim()}`);
  await waitServing(ctx, container, before);
  ctx.log(`edge ${container}: configuration reloaded (${since(start)})`);
}

async function handover(ctx: EdgeContext, spec: EdgeProxySpec, previous: string[]): Promise<void> {
  const start = Date.now();
  const name = edgeContainerName(spec);
  const from = previous[0];
  const state = from ? await serversState(ctx, from) : undefined;
  // Maintenance mode carries over: the new HAProxy starts with the old one's map (empty on a first start).
  const maintenance = from ? await execText(ctx.docker, from, ["cat", MAINTENANCE_MAP]).catch(() => "") : "";
  const container = await ctx.docker.createContainer(edgeCreateOptions(spec)).catch((e: Error) => {
    throw new Error(`edge: could not create ${name} (image ${spec.image}): ${e.message}`);
  });
  try {
    await putFile(ctx.docker, name, CONFIG_PATH, spec.config);
    if (spec.tlsPem !== undefined) await putKeyFile(ctx.docker, name, TLS_PEM, spec.tlsPem);
    await putFile(ctx.docker, name, MAINTENANCE_MAP, maintenance);
    if (state) await putFile(ctx.docker, name, SERVER_STATE_FILE, state);
    await container.start();
    await waitServing(ctx, name, state ? upAddresses(state) : new Set());
  } catch (e) {
    const logs = await container.logs({ stdout: true, stderr: true }).then((b) => String(b).slice(-2000), () => "");
    await container.remove({ force: true, v: true }).catch(() => undefined);
    throw new Error(`edge: the new HAProxy ${name} did not come up; ${from ? `${from} keeps serving` : "no edge is running"}. ${(e as Error).message}\n${logs}`);
  }
  ctx.log(`edge ${name}: serving${from ? ` beside ${from}` : ""} (${since(start)})`);
}

/** Waits until `container`'s HAProxy answers and has at least the addresses in `mustBeUp` UP. */
async function waitServing(ctx: EdgeContext, container: string, mustBeUp: Set<string>): Promise<void> {
  const runtime = edgeRuntime(ctx.docker, container);
  let last = "no answer yet";
  await pollUntil(
    async () => {
      const info = await ctx.docker.getContainer(container).inspect();
      if (!info.State.Running) throw new Error(`${container} exited with code ${info.State.ExitCode}`);
      try {
        const up = upAddresses(await runtime.command("show servers state"));
        const missing = [...mustBeUp].filter((a) => !up.has(a));
        if (missing.length === 0) return true;
        last = `not UP yet: ${missing.join(", ")}`;
      } catch (e) {
        last = (e as Error).message;
      }
      return undefined;
    },
    { timeoutMs: ctx.timeouts.readyTimeoutMs, intervalMs: 200, onTimeout: () => new Error(`${container} not serving within ${ctx.timeouts.readyTimeoutMs} ms (${last})`) },
  );
}

function upAddresses(serversStateText: string): Set<string> {
  return new Set(parseServersState(serversStateText).filter((s) => s.addr && s.opState === OP_RUNNING).map((s) => s.addr!));
}

/** SIGUSR1: stop accepting, finish in-flight requests, exit; killed after the stop timeout. Then removed. */
async function softStop(ctx: EdgeContext, name: string): Promise<void> {
  const start = Date.now();
  const c = ctx.docker.getContainer(name);
  await c.kill({ signal: "SIGUSR1" }).catch(ignoreStatus(404, 409));
  const stopped = await pollUntil(
    async () => {
      try {
        return (await c.inspect()).State.Running ? undefined : true;
      } catch (e) {
        if (isStatus(e, 404)) return true;
        throw e;
      }
    },
    { timeoutMs: ctx.timeouts.stopTimeoutMs, intervalMs: 200, onTimeout: () => new Error("stop timeout") },
  ).catch(() => false);
  if (!stopped) {
    ctx.log(`edge ${name}: still busy ${ctx.timeouts.stopTimeoutMs} ms after SIGUSR1; killing it`);
    await c.kill().catch(ignoreStatus(404, 409));
  }
  await removeEdge(ctx, name);
  ctx.log(`edge ${name}: stopped and removed (${since(start)})`);
}

/** With its anonymous volumes (EDGE_WRITABLE_DIRS): nothing of an edge outlives it. */
async function removeEdge(ctx: EdgeContext, name: string): Promise<void> {
  await ctx.docker.getContainer(name).remove({ force: true, v: true }).catch(ignoreStatus(404));
}

export async function putFile(docker: Docker, container: string, path: string, content: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  await docker.getContainer(container).putArchive(tarOneFile(path.slice(dir.length + 1), content), { path: dir });
}

/**
 * The TLS certificate + private key: mode 0600, owned by the container's user (haproxy in the edge image, which
 * reads it), so no other user in the container can read the key. The owner goes in the tar header as numbers, read
 * from the container's own /etc/passwd (Docker's copyUIDGID looks the name up on the host instead, and fails).
 */
async function putKeyFile(docker: Docker, container: string, path: string, content: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const c = docker.getContainer(container);
  const [user = "", group] = ((await c.inspect()).Config.User ?? "").split(":");
  let owner = { uid: 0, gid: 0 };
  if (/^\d+$/.test(user)) owner = { uid: Number(user), gid: Number(group && /^\d+$/.test(group) ? group : user) };
  else if (user !== "" && user !== "root") {
    const passwd = await new Promise<Buffer>((resolve, reject) => {
      void c.getArchive({ path: "/etc/passwd" }).then((stream) => {
        const parts: Buffer[] = [];
        stream.on("data", (b: Buffer) => parts.push(b));
        stream.on("end", () => resolve(Buffer.concat(parts)));
        stream.on("error", reject);
      }, reject);
    });
    owner = passwdOwner((firstFileOfTar(passwd) ?? Buffer.alloc(0)).toString("utf8"), user, container);
  }
  await c.putArchive(tarOneFile(path.slice(dir.length + 1), content, 0o600, owner), { path: dir });
}

/** Pure: uid and gid of the user named `user` in an /etc/passwd text. */
export function passwdOwner(passwd: string, user: string, container: string): { uid: number; gid: number } {
  const line = passwd.split("\n").find((l) => l.split(":")[0] === user);
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`edge ${container}: its user "${user}" is not in its /etc/passwd; cannot give it the TLS key`);
  return { uid: Number(uid), gid: Number(gid) };
}
