// Renders haproxy.cfg for the edge: one HTTP frontend, one backend whose servers come from Docker DNS.
// Pure: options in, text out. The rollout drains slots of this backend through the admin socket; a config
// change reloads the running HAProxy through its master socket; both a reload and a handover to a new
// HAProxy container first save the servers' state (addresses, UP/DOWN, drain) to SERVER_STATE_FILE, which the
// new process loads, so it serves from its first connection instead of answering 503 until DNS and health
// checks have caught up.

export const ADMIN_SOCKET = "/var/run/haproxy/admin.sock";
export const MASTER_SOCKET = "/var/run/haproxy/master.sock";
export const CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg";
export const SERVER_STATE_FILE = "/var/lib/haproxy/server-state";

export interface HaproxyConfigOptions {
  /** Backend name; also the name the runtime API addresses (`<backend>/<prefix><n>`). */
  backend: string;
  /** DNS name the replicas answer to on the shared network (their network alias). */
  serviceHost: string;
  /** Port the replicas listen on. Default 3000. */
  servicePort?: number;
  /** Frontend port. Default 8080. */
  listenPort?: number;
  /** `server-template` prefix; slots are named `<prefix>1..<prefix><slots>`. Default "api". */
  serverPrefix?: string;
  /** Number of slots. Must exceed replicas + one surge + removed-but-still-held addresses. Default 10. */
  slots?: number;
  /** Readiness path the edge checks (the API's /up). Default "/up". */
  healthPath?: string;
  /** Connect retries on `conn-failure` only (replaying requests a server may have seen is never safe). Default 3. */
  retries?: number;
  /** How long a vanished address keeps its slot. Default 10000 ms. */
  holdObsoleteMs?: number;
  /** How long a valid answer is trusted, and how often DNS is asked. Default 1000 ms. */
  resolveIntervalMs?: number;
  timeouts?: { connectMs?: number; clientMs?: number; serverMs?: number; httpRequestMs?: number; queueMs?: number };
}

export function renderHaproxyConfig(opts: HaproxyConfigOptions): string {
  const name = requireName("backend", opts.backend);
  const host = requireName("serviceHost", opts.serviceHost);
  const prefix = requireName("serverPrefix", opts.serverPrefix ?? "api");
  const servicePort = requirePort("servicePort", opts.servicePort ?? 3000);
  const listenPort = requirePort("listenPort", opts.listenPort ?? 8080);
  const slots = requirePositive("slots", opts.slots ?? 10);
  const retries = requirePositive("retries", opts.retries ?? 3);
  const healthPath = opts.healthPath ?? "/up";
  if (!/^\/[\w./-]*$/.test(healthPath)) throw new Error(`renderHaproxyConfig: healthPath "${healthPath}" must be a plain path`);
  const holdObsolete = requirePositive("holdObsoleteMs", opts.holdObsoleteMs ?? 10_000);
  const resolve = requirePositive("resolveIntervalMs", opts.resolveIntervalMs ?? 1000);
  const t = opts.timeouts ?? {};

  return [
    "global",
    "  log stdout format raw local0 notice",
    `  stats socket ${ADMIN_SOCKET} mode 600 level admin`,
    "  stats timeout 10s",
    `  server-state-file ${SERVER_STATE_FILE}`,
    "",
    "resolvers docker",
    "  nameserver dns 127.0.0.11:53",
    "  accepted_payload_size 8192",
    "  resolve_retries 3",
    `  timeout resolve ${resolve}ms`,
    "  timeout retry 500ms",
    `  hold valid ${resolve}ms`,
    `  hold obsolete ${holdObsolete}ms`,
    "  hold other 1s",
    "  hold refused 1s",
    "  hold nx 1s",
    "  hold timeout 1s",
    "",
    "defaults",
    "  mode http",
    "  log global",
    "  option httplog",
    "  option dontlognull",
    // Retry only when the connection could not be made: the request never reached a replica.
    "  retry-on conn-failure",
    `  retries ${retries}`,
    "  option redispatch",
    // On a reload or handover the old process answers the next request on an idle keep-alive connection with
    // `Connection: close` instead of closing it under the client's feet.
    "  option idle-close-on-response",
    "  load-server-state-from-file global",
    `  timeout connect ${t.connectMs ?? 2000}ms`,
    `  timeout client ${t.clientMs ?? 60_000}ms`,
    `  timeout server ${t.serverMs ?? 60_000}ms`,
    `  timeout http-request ${t.httpRequestMs ?? 10_000}ms`,
    `  timeout queue ${t.queueMs ?? 10_000}ms`,
    "",
    "frontend http",
    `  bind :${listenPort}`,
    `  default_backend ${name}`,
    "",
    `backend ${name}`,
    "  balance roundrobin",
    `  option httpchk GET ${healthPath}`,
    "  http-check expect status 200",
    "  default-server inter 500ms fall 2 rise 1 check resolvers docker resolve-prefer ipv4 init-addr last,none",
    `  server-template ${prefix} ${slots} ${host}:${servicePort}`,
    "",
  ].join("\n");
}

function requireName(key: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value)) {
    throw new Error(`renderHaproxyConfig: ${key} "${value}" must be letters, digits, '_', '.', '-'`);
  }
  return value;
}

function requirePort(key: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`renderHaproxyConfig: ${key} ${value} is not a port`);
  return value;
}

function requirePositive(key: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`renderHaproxyConfig: ${key} ${value} must be a positive integer`);
  return value;
}
