// Renders haproxy.cfg for the edge: one HTTP frontend, one backend whose servers come from Docker DNS.
// An option left out takes the stack setting's default from stacks/schema.ts (the one home of every default).
// Pure: options in, text out. The rollout drains slots of this backend through the admin socket; a config
// change reloads the running HAProxy through its master socket; both a reload and a handover to a new
// HAProxy container first save the servers' state (addresses, UP/DOWN, drain) to SERVER_STATE_FILE, which the
// new process loads, so it serves from its first connection instead of answering 503 until DNS and health
// checks have caught up.

import { apiSchema, edgeSchema, edgeTimeoutsSchema, healthcheckSchema } from "../../stacks/schema";

export const ADMIN_SOCKET = "/var/run/haproxy/admin.sock";
export const MASTER_SOCKET = "/var/run/haproxy/master.sock";
export const CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg";
export const SERVER_STATE_FILE = "/var/lib/haproxy/server-state";
/**
 * Maintenance mode: while this map has the key `on`, every request gets a 503 with Retry-After and the
 * message (the key's value). Changed at run time through the admin socket (src/edge/maintenance.ts) and written
 * to the file too, so a reload or a handover keeps it.
 */
export const MAINTENANCE_MAP = "/usr/local/etc/haproxy/maintenance.map";
/** Certificate + key (PEM bundle) for the HTTPS listener, written by the EdgeProxy provider from Pulumi secrets. */
export const TLS_PEM = "/usr/local/etc/haproxy/tls.pem";
/** Where HAProxy listens inside the holder's namespace; the holder publishes them. */
export const HTTP_PORT = 8080;
export const HTTPS_PORT = 8443;
/** HAProxy's built-in Prometheus exporter, inside the holder's namespace: reachable on the edge network, never published. */
export const METRICS_PORT = 8405;
// Mozilla "intermediate": TLS 1.2 with forward-secret AEAD ciphers, and TLS 1.3.
const TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
const TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
/** Paths exempt from rate limiting (readiness, health, metrics). */
const UNLIMITED_PATHS = ["/up", "/health", "/metrics"];

export interface HaproxyConfigOptions {
  /** The maintenance map's file (default MAINTENANCE_MAP; on swarm the edge task keeps its own, src/swarm/edge-config.ts). */
  maintenanceMap?: string;
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
  /** Number of slots. Must exceed replicas + api.rollout.surge + removed-but-still-held addresses. Default 10. */
  slots?: number;
  /** Readiness path the edge checks (the API's /up). Default "/up". */
  healthPath?: string;
  /** Connect retries on `conn-failure` only (replaying requests a server may have seen is never safe). Default 3. */
  retries?: number;
  /** How long a vanished address keeps its slot. Default 10000 ms. */
  holdObsoleteMs?: number;
  /** How long a valid answer is trusted, and how often DNS is asked. Default 1000 ms. */
  resolveIntervalMs?: number;
  timeouts?: { connectMs?: number; clientMs?: number; serverMs?: number; httpRequestMs?: number; queueMs?: number; checkMs?: number };
  /** X-Content-Type-Options, X-Frame-Options, Referrer-Policy, CSP frame-ancestors on every response. */
  securityHeaders?: boolean;
  /** Origins allowed cross-origin requests (exact match), or ["*"]; [] = no CORS headers at all. */
  corsOrigins?: string[];
  /** Requests per client address per 10 s before 429 (0 = no limit); UNLIMITED_PATHS are exempt. */
  rateLimitPer10s?: number;
  /** Log client addresses truncated to /24 (IPv4) and /64 (IPv6): no full address in the logs. */
  truncateClientAddress?: boolean;
  /**
   * HTTPS on HTTPS_PORT with the certificate at TLS_PEM; plain HTTP is redirected (308) to `publicPort`, the
   * port clients use for HTTPS; `hsts` adds Strict-Transport-Security to HTTPS answers.
   */
  tls?: {
    publicPort: number;
    hsts: boolean;
    /** Where the PEM is: TLS_PEM by default; the Swarm target's edge tasks keep theirs elsewhere (src/swarm/edge-config.ts). */
    pemPath?: string;
  };
  /**
   * Swarm target: several server-templates in the one backend instead of `serverPrefix` over `serviceHost` — one per
   * release colour, each over `tasks.<service>` (a stable config across releases).
   */
  serverTemplates?: { prefix: string; host: string }[];
  /**
   * Swarm target: the admin socket forwarded to TCP `port`, accepting connections from `allowFrom` (a CIDR: the control
   * overlay no API task is on) only; the relay on the manager reaches it there (src/swarm/edge.ts).
   */
  runtimeApi?: { port: number; allowFrom: string };
  /**
   * Swarm target: the config's identity (its content's hash), as `show info` reports it (`description:`), so that a
   * deploy can tell which config every edge task has loaded (src/swarm/edge-config.ts).
   */
  description?: string;
}

export function renderHaproxyConfig(opts: HaproxyConfigOptions): string {
  const name = requireName("backend", opts.backend);
  const host = requireName("serviceHost", opts.serviceHost);
  const prefix = requireName("serverPrefix", opts.serverPrefix ?? "api");
  const servicePort = requirePort("servicePort", opts.servicePort ?? apiSchema.shape.port.parse(undefined));
  const listenPort = requirePort("listenPort", opts.listenPort ?? 8080);
  const slots = requirePositive("slots", opts.slots ?? edgeSchema.shape.slots.parse(undefined));
  const retries = requirePositive("retries", opts.retries ?? edgeSchema.shape.retries.parse(undefined));
  const healthPath = opts.healthPath ?? healthcheckSchema.shape.path.parse(undefined);
  const maintenanceMap = opts.maintenanceMap ?? MAINTENANCE_MAP;
  if (!/^\/[\w./-]+$/.test(maintenanceMap)) throw new Error(`maintenanceMap must be an absolute path, got ${maintenanceMap}`);
  if (!/^\/[\w./-]*$/.test(healthPath)) throw new Error(`renderHaproxyConfig: healthPath "${healthPath}" must be a plain path`);
  const holdObsolete = requirePositive("holdObsoleteMs", opts.holdObsoleteMs ?? 10_000);
  const resolve = requirePositive("resolveIntervalMs", opts.resolveIntervalMs ?? 1000);
  const t = { ...edgeTimeoutsSchema.parse({}), ...opts.timeouts };
  const cors = opts.corsOrigins ?? [];
  for (const o of cors) {
    if (o !== "*" && !/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(o)) throw new Error(`renderHaproxyConfig: CORS origin "${o}" must be scheme://host[:port]`);
  }
  const rate = opts.rateLimitPer10s ?? edgeSchema.shape.rateLimit.parse(undefined).requestsPer10s;
  if (!Number.isInteger(rate) || rate < 0) throw new Error(`renderHaproxyConfig: rateLimitPer10s ${rate} must be a whole number >= 0`);
  const client = opts.truncateClientAddress ? "%[src,ipmask(24,64)]" : "%ci";
  // One JSON object per request: no bodies, no query strings (%HPO is the path only), the request id.
  const logFormat =
    `{"time":"%tr","client":"${client}","method":"%HM","path":"%HPO","status":%ST,"bytes":%B,"ms":%Ta,` +
    `"backend":"%b","server":"%s","retries":%rc,"request_id":"%[var(txn.request_id),json(utf8s)]","termination":"%tsc"}`;
  const tls = opts.tls;
  if (tls) requirePort("tls.publicPort", tls.publicPort);
  const frontendRules = [
    ...(tls
      ? [
          // 308 keeps the method and body; the Host header's name with the public HTTPS port (omitted when 443).
          `  http-request redirect location https://%[req.hdr(host),field(1,:)]${tls.publicPort === 443 ? "" : `:${tls.publicPort}`}%[capture.req.uri] code 308 unless { ssl_fc }`,
          ...(tls.hsts ? ['  http-response set-header Strict-Transport-Security "max-age=63072000" if { ssl_fc }'] : []),
        ]
      : []),
    // A request id for every request (the client's X-Request-ID if it sent one), passed to the API and logged.
    "  http-request set-var(txn.request_id) req.hdr(x-request-id)",
    "  http-request set-var(txn.request_id) uuid(4) unless { var(txn.request_id) -m found }",
    "  http-request set-header X-Request-ID %[var(txn.request_id)]",
    "  http-response set-header X-Request-ID %[var(txn.request_id)]",
    // The API's /metrics is for Prometheus on the internal network (it scrapes the replicas directly), not the public.
    "  http-request return status 404 if { path /metrics }",
    `  acl maintenance str(on),map(${maintenanceMap}) -m found`,
    `  http-request return status 503 content-type application/json lf-string "{\\"error\\":\\"maintenance\\",\\"message\\":\\"%[str(on),map(${maintenanceMap}),json(utf8s)]\\"}" hdr retry-after 60 if maintenance`,
    ...(rate > 0
      ? [
          "  stick-table type ipv6 size 100k expire 30s store http_req_rate(10s)",
          `  http-request track-sc0 src unless ${UNLIMITED_PATHS.map((p) => `{ path ${p} }`).join(" || ")}`,
          `  http-request return status 429 content-type application/json string "{\\"error\\":\\"rate limited\\"}" hdr retry-after 10 if { sc_http_req_rate(0) gt ${rate} }`,
        ]
      : []),
    ...(cors.length > 0
      ? [
          // An allowed Origin is echoed back ("*" allows any); preflights are answered here, never by the API.
          cors.includes("*") ? "  acl cors_origin req.hdr(origin) -m found" : `  acl cors_origin req.hdr(origin) -m str ${cors.join(" ")}`,
          `  http-request set-var(txn.cors_origin) ${cors.includes("*") ? "str(*)" : "req.hdr(origin)"} if cors_origin`,
          '  http-request return status 204 hdr access-control-allow-origin "%[var(txn.cors_origin)]" hdr access-control-allow-methods "GET, POST, PUT, PATCH, DELETE, OPTIONS" hdr access-control-allow-headers "%[req.hdr(access-control-request-headers)]" hdr access-control-max-age 600 hdr vary origin if METH_OPTIONS cors_origin { req.hdr(access-control-request-method) -m found }',
          '  http-response set-header access-control-allow-origin "%[var(txn.cors_origin)]" if { var(txn.cors_origin) -m found }',
          "  http-response add-header vary origin if { var(txn.cors_origin) -m found }",
        ]
      : []),
    ...(opts.securityHeaders ?? edgeSchema.shape.securityHeaders.parse(undefined)
      ? [
          "  http-response set-header X-Content-Type-Options nosniff",
          "  http-response set-header X-Frame-Options DENY",
          "  http-response set-header Referrer-Policy strict-origin-when-cross-origin",
          `  http-response set-header Content-Security-Policy "frame-ancestors 'none'"`,
        ]
      : []),
  ];

  return [
    "global",
    ...(opts.description !== undefined ? [`  description ${requireName("description", opts.description)}`] : []),
    // info: one access-log line per request (at notice, `option httplog` writes nothing).
    "  log stdout format raw local0 info",
    `  stats socket ${ADMIN_SOCKET} mode 600 level admin`,
    "  stats timeout 10s",
    `  server-state-file ${SERVER_STATE_FILE}`,
    ...(tls
      ? [`  ssl-default-bind-ciphers ${TLS12_CIPHERS}`, `  ssl-default-bind-ciphersuites ${TLS13_SUITES}`, "  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets"]
      : []),
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
    "  option dontlognull",
    // Retry only when the connection could not be made: the request never reached a replica.
    "  retry-on conn-failure",
    `  retries ${retries}`,
    "  option redispatch",
    // On a reload or handover the old process answers the next request on an idle keep-alive connection with
    // `Connection: close` instead of closing it under the client's feet.
    "  option idle-close-on-response",
    "  load-server-state-from-file global",
    `  timeout connect ${t.connectMs}ms`,
    `  timeout client ${t.clientMs}ms`,
    `  timeout server ${t.serverMs}ms`,
    `  timeout http-request ${t.httpRequestMs}ms`,
    `  timeout queue ${t.queueMs}ms`,
    // A replica's readiness answer may take this long (else HAProxy allows only `inter`: 500 ms) before it counts as failed.
    `  timeout check ${t.checkMs}ms`,
    "",
    "frontend http",
    `  bind :${listenPort}`,
    `  log-format '${logFormat}'`,
    ...(tls ? [`  bind :${HTTPS_PORT} ssl crt ${tls.pemPath ?? TLS_PEM} alpn h2,http/1.1`] : []),
    ...frontendRules,
    `  default_backend ${name}`,
    "",
    "frontend metrics",
    `  bind :${METRICS_PORT}`,
    "  no log",
    "  http-request use-service prometheus-exporter if { path /metrics }",
    "  http-request return status 404",
    "",
    `backend ${name}`,
    "  balance roundrobin",
    `  option httpchk GET ${healthPath}`,
    "  http-check expect status 200",
    "  default-server inter 500ms fall 2 rise 1 check resolvers docker resolve-prefer ipv4 init-addr last,none",
    ...(opts.serverTemplates ?? [{ prefix, host }]).map((t) => `  server-template ${requireName("serverTemplates.prefix", t.prefix)} ${slots} ${requireName("serverTemplates.host", t.host)}:${servicePort}`),
    "",
    ...(opts.runtimeApi
      ? [
          "listen runtime-api",
          "  mode tcp",
          `  bind :${requirePort("runtimeApi.port", opts.runtimeApi.port)}`,
          "  no log",
          "  no option idle-close-on-response",
          `  tcp-request connection reject unless { src ${requireCidr(opts.runtimeApi.allowFrom)} }`,
          `  server admin unix@${ADMIN_SOCKET}`,
          "",
        ]
      : []),
  ].join("\n");
}

function requireName(key: string, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value)) {
    throw new Error(`renderHaproxyConfig: ${key} "${value}" must be letters, digits, '_', '.', '-'`);
  }
  return value;
}

function requireCidr(value: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(value)) throw new Error(`renderHaproxyConfig: runtimeApi.allowFrom "${value}" must be an IPv4 CIDR such as 10.0.9.0/24`);
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
