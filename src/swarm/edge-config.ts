// How the edge's haproxy.cfg reaches its tasks on Swarm without replacing them. A Swarm task's spec is immutable: a
// config mounted from the service's spec changes only with a new task, and a new edge task cannot start beside the old
// one on its node (both would publish the node's port), so every config change was a gap at each edge node in turn.
// Instead the edge's spec names no config. Its tasks fetch haproxy.cfg (and the certificate and key, with edge.tls)
// from the *config server* — a small global service on the edge nodes, on the control overlay only, that serves the
// Swarm config and secret it mounts (a change replaces the server's tasks, start-first: no port is published) — at
// start and every EDGE_POLL_S seconds after; files that differ are checked (`haproxy -c`), the servers' state saved,
// and the running HAProxy reloaded in place (master-worker: the master hands the listening sockets to the new worker,
// the old one finishes its requests) — one-host's reload (src/edge/proxy.ts), on every edge node. Files that fail the
// check are logged and not loaded. `pulumi up` waits until every edge task reports the new config's hash (`show
// info`: description; the hash covers the certificate's digest, so a renewal is a new config too).
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
/** The Swarm secret's file name in the config server's task (/run/secrets/…), when the edge serves HTTPS. */
export const SERVED_TLS_SECRET = "tls.pem";
/** Where an edge task keeps the certificate and key it loaded (the config's `crt`). */
export const EDGE_TLS_PEM = "/tmp/tls.pem";
/**
 * The edge task's maintenance map (the config's `maintenanceMap`): the image's is root's, and a task's own file is what
 * `npm run maintenance` sets through the runtime API (src/swarm/maintenance.ts) and the task writes back before each
 * reload, so a config change keeps maintenance on. A new task (an edge image change, a node back) starts with it off.
 */
export const EDGE_MAINTENANCE_MAP = "/tmp/maintenance.map";
/** The last line of haproxy.cfg as served (what follows, if anything, is the PEM). */
export const CONFIG_END = "# slipway: end of haproxy.cfg";
/** The last line of everything the config server sends: a fetch cut short is never loaded (a bare word: socat's
 * address syntax takes quotes, and the shell a `#`). */
export const BUNDLE_END = "slipway-end-of-edge-files";
/** How often an edge task asks the config server for its files. */
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

/**
 * The config server's command: each connection gets haproxy.cfg, then the PEM when `tls`, then BUNDLE_END — both files
 * from the one task, so an edge never pairs a config with another task's certificate.
 */
export function configServerCommand(tls: boolean): string[] {
  const files = [SERVED_CONFIG_PATH, ...(tls ? [`/run/secrets/${SERVED_TLS_SECRET}`] : [])].join(" ");
  return ["socat", `TCP-LISTEN:${EDGE_CONFIG_PORT},fork,reuseaddr`, `SYSTEM:cat ${files} && echo ${BUNDLE_END}`];
}

/**
 * The edge task's command (POSIX sh, PID 1): fetch the files until they come whole, run HAProxy in master-worker mode,
 * forward SIGUSR1 (Swarm's stop signal here: HAProxy's soft stop) and SIGTERM, and reload whenever the config or the
 * PEM changes and the pair passes `haproxy -c`. A refused pair is logged once and the running one stays.
 */
export function edgeTaskScript(): string {
  return [
    // The PEM (and every file here) the haproxy user's alone.
    "set -u; umask 077",
    `CFG=/tmp/haproxy.cfg NEXT=/tmp/haproxy.next.cfg PEM=${EDGE_TLS_PEM} NEXTPEM=/tmp/tls.next.pem CHECK=/tmp/haproxy.check.cfg MAP=${EDGE_MAINTENANCE_MAP}`,
    ': > "$MAP"',
    "BUNDLE=/tmp/edge.bundle REFUSED=/tmp/edge.refused",
    "fetch() {",
    `  rm -f "$BUNDLE"; socat -u "TCP:$${CONFIG_FROM_ENV},connect-timeout=3" "CREATE:$BUNDLE" 2>/dev/null || return 1`,
    `  [ "$(tail -n 1 "$BUNDLE")" = '${BUNDLE_END}' ] || return 1`,
    `  sed -n '1,/^${CONFIG_END}$/p' "$BUNDLE" > "$NEXT"`,
    `  sed -e '1,/^${CONFIG_END}$/d' -e '$d' "$BUNDLE" > "$NEXTPEM"`,
    "}",
    // The pair as it would load: the config naming the new PEM.
    `check() { sed "s#crt $PEM #crt $NEXTPEM #" "$NEXT" > "$CHECK" && haproxy -c -q -f "$CHECK"; }`,
    `until fetch && check; do echo "slipway edge: waiting for its files from $${CONFIG_FROM_ENV}" >&2; sleep 1; done`,
    'mv "$NEXTPEM" "$PEM"; mv "$NEXT" "$CFG"',
    'haproxy -W -db -f "$CFG" & pid=$!',
    "trap 'kill -USR1 $pid' USR1",
    "trap 'kill -TERM $pid' TERM INT",
    'while kill -0 "$pid" 2>/dev/null; do',
    `  sleep ${EDGE_POLL_S} & wait $!`,
    '  fetch || continue',
    '  if cmp -s "$NEXT" "$CFG" && cmp -s "$NEXTPEM" "$PEM"; then continue; fi',
    '  if cmp -s "$BUNDLE" "$REFUSED"; then continue; fi',
    "  if check; then",
    `    echo "show servers state" | socat stdio "unix-connect:${ADMIN_SOCKET}" > ${SERVER_STATE_FILE} 2>/dev/null || true`,
    // The maintenance entry as set at run time ("0x<id> on <message>" → "on <message>"), for the new worker to read.
    `    if echo "show map $MAP" | socat stdio "unix-connect:${ADMIN_SOCKET}" > /tmp/map.now 2>/dev/null; then sed -n 's/^0x[0-9a-f]* //p' /tmp/map.now > "$MAP"; fi`,
    '    mv "$NEXTPEM" "$PEM"; mv "$NEXT" "$CFG"; kill -USR2 "$pid"; echo "slipway edge: reloaded with the new files" >&2',
    "  else",
    '    cp "$BUNDLE" "$REFUSED"; echo "slipway edge: new files failed their check (above); the running ones stay" >&2',
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
