// How the edge's haproxy.cfg reaches its tasks on Swarm without replacing them. A Swarm task's spec is immutable: a
// config mounted from the service's spec changes only with a new task, and a new edge task cannot start beside the old
// one on its node (both would publish the node's port), so every config change was a gap at each edge node in turn.
// Instead the edge's spec names no config. Its tasks fetch haproxy.cfg from the *config server* — a small global
// service on the edge nodes, on the control overlay only, that serves the one Swarm config it mounts (a config change
// replaces the server's tasks, start-first: no port is published) — at start and every EDGE_POLL_S seconds after; a
// fetched config that differs is checked (`haproxy -c`), the servers' state saved, and the running HAProxy reloaded
// in place (master-worker: the master hands the listening sockets to the new worker, the old one finishes its
// requests) — one-host's reload (src/edge/proxy.ts), on every edge node. A config that fails the check is logged and
// not loaded. `pulumi up` waits until every edge task reports the new config's hash (`show info`: description).
// An edge *image* change still replaces the tasks, one node at a time (README "Target swarm").
import type Docker from "dockerode";
import { ADMIN_SOCKET, SERVER_STATE_FILE } from "../edge/haproxy-config";
import { pollUntil } from "../vocabulary";
import { openRelay } from "./edge";
import type { SwarmEdgeTarget } from "./spec";
import { serviceLogTail } from "./tasks";

/** The config server's TCP port on the control overlay (never published). */
export const EDGE_CONFIG_PORT = 8406;
/** Where the config server's task mounts the Swarm config it serves. */
export const SERVED_CONFIG_PATH = "/run/slipway/haproxy.cfg";
/** The last line of every config served: a fetch cut short is never loaded. */
export const CONFIG_END = "# slipway: end of haproxy.cfg";
/** How often an edge task asks the config server for the config. */
export const EDGE_POLL_S = 2;
/** The edge task's environment variable naming the config server (host:port). */
export const CONFIG_FROM_ENV = "SLIPWAY_EDGE_CONFIG_FROM";

/** The stack's config server (a global service on the edge nodes). */
export function configServerName(prefix: string): string {
  return `${prefix}-edge-config`;
}

/** Pure: haproxy.cfg as served — its text, then CONFIG_END. */
export function servedConfig(text: string): string {
  return `${text.replace(/\n*$/, "\n")}${CONFIG_END}\n`;
}

/** The config server's command: each connection gets the mounted config, whole. */
export function configServerCommand(): string[] {
  return ["socat", `TCP-LISTEN:${EDGE_CONFIG_PORT},fork,reuseaddr`, `SYSTEM:cat ${SERVED_CONFIG_PATH}`];
}

/**
 * The edge task's command (POSIX sh, PID 1): fetch haproxy.cfg until it comes whole, run HAProxy in master-worker mode,
 * forward SIGUSR1 (Swarm's stop signal here: HAProxy's soft stop) and SIGTERM, and reload on every new config that
 * passes `haproxy -c`. A refused config is logged once and the running one stays.
 */
export function edgeTaskScript(): string {
  return [
    "set -u",
    "CFG=/tmp/haproxy.cfg NEXT=/tmp/haproxy.next.cfg REFUSED=/tmp/haproxy.refused.cfg",
    `fetch() { rm -f "$NEXT"; socat -u "TCP:$${CONFIG_FROM_ENV},connect-timeout=3" "CREATE:$NEXT" 2>/dev/null && [ "$(tail -n 1 "$NEXT")" = '${CONFIG_END}' ]; }`,
    `until fetch; do echo "slipway edge: waiting for haproxy.cfg from $${CONFIG_FROM_ENV}" >&2; sleep 1; done`,
    'mv "$NEXT" "$CFG"',
    'haproxy -W -db -f "$CFG" & pid=$!',
    "trap 'kill -USR1 $pid' USR1",
    "trap 'kill -TERM $pid' TERM INT",
    'while kill -0 "$pid" 2>/dev/null; do',
    `  sleep ${EDGE_POLL_S} & wait $!`,
    '  if fetch && ! cmp -s "$NEXT" "$CFG" && ! cmp -s "$NEXT" "$REFUSED"; then',
    '    if haproxy -c -q -f "$NEXT"; then',
    `      echo "show servers state" | socat stdio "unix-connect:${ADMIN_SOCKET}" > ${SERVER_STATE_FILE} 2>/dev/null || true`,
    '      mv "$NEXT" "$CFG" && kill -USR2 "$pid" && echo "slipway edge: haproxy.cfg reloaded" >&2',
    "    else",
    '      cp "$NEXT" "$REFUSED"; echo "slipway edge: a new haproxy.cfg failed its check (above); the running one stays" >&2',
    "    fi",
    "  fi",
    "done",
    'wait "$pid"',
  ].join("\n");
}

interface ServiceUpdate {
  Spec?: { TaskTemplate?: { ContainerSpec?: { Image?: string } } };
  UpdateStatus?: { State?: string; Message?: string };
}

interface TaskImage {
  Spec?: { ContainerSpec?: { Image?: string } };
  Status?: { State?: string };
}

/**
 * Resolves once every running edge task runs the service's current spec and has loaded the config whose hash is
 * `configHash`; throws with the reason (Swarm paused the edge's update, or tasks still on another config, with the
 * edge's log tail) after `timeoutMs`.
 */
export async function waitEdgeConfig(docker: Docker, stack: string, edge: SwarmEdgeTarget, configHash: string, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  const relay = await openRelay(docker, stack, edge);
  let pending = "no edge task answered yet";
  try {
    await pollUntil(
      async () => {
        const service = (await docker.getService(edge.service).inspect()) as ServiceUpdate;
        const update = service.UpdateStatus;
        if (update?.State === "paused" || update?.State?.startsWith("rollback")) throw new Error(`${edge.service}: Swarm's update ${update.State}: ${update.Message ?? ""}`);
        if (update?.State === "updating") {
          pending = `${edge.service} updating (${update.Message ?? "tasks being replaced"})`;
          return undefined;
        }
        // Swarm may not have begun an update the provider has just asked for: each task's image says.
        const image = service.Spec?.TaskTemplate?.ContainerSpec?.Image;
        const tasks = (await docker.listTasks({ filters: { service: [edge.service], "desired-state": ["running"] } })) as TaskImage[];
        const old = tasks.filter((t) => t.Spec?.ContainerSpec?.Image !== image).length;
        if (old > 0) {
          pending = `${old} edge task${old === 1 ? "" : "s"} still on the previous image`;
          return undefined;
        }
        const edges = await relay.edges();
        if (edges.length === 0) {
          pending = "no edge task running yet";
          return undefined;
        }
        const loaded = await Promise.all(edges.map(async (e) => ({ e, hash: (/^description: (\S+)$/m.exec(await e.runtime.command("show info").catch(() => "")) ?? [])[1] ?? "(no answer)" })));
        const behind = loaded.filter((l) => l.hash !== configHash);
        pending = behind.map((l) => `${l.e.node} on ${l.hash}`).join(", ");
        return behind.length === 0 ? edges.length : undefined;
      },
      { timeoutMs, intervalMs: 1000, onTimeout: () => new Error(`edge tasks not on config ${configHash} within ${timeoutMs} ms: ${pending}`) },
    ).then((n) => log(`config ${configHash} loaded at ${n} edge task${n === 1 ? "" : "s"} after ${((Date.now() - started) / 1000).toFixed(1)}s`));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${edge.service}'s last lines:\n${await serviceLogTail(docker, edge.service, 15)}`);
  } finally {
    await relay.close();
  }
}
