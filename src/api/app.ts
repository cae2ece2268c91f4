// The demo API's HTTP routes (fastify), wired to a Store; no process or signal handling here.
import fastify, { type FastifyInstance } from "fastify";
import { healthReport, isDatabaseUnavailable, isLoopback, readinessReport, walArchiveCheck, type CheckResult } from "./health";
import { parseItemInput } from "./items";
import { createMetrics, METRICS_PATH, type ApiMetrics } from "./metrics";
import { requestLogFields } from "./request-log";
import type { Store } from "./store";

export interface AppDeps {
  store: Store;
  version: string;
  isDraining: () => boolean;
  /** true: JSON logs to stdout (pino); false in tests. */
  logger: boolean;
  /** Served at /metrics; default: a fresh set for this app (with the store's pool gauges, if it has a pool). */
  metrics?: ApiMetrics;
}

const DB_CHECK_TIMEOUT_MS = 2000;
/**
 * /health runs its checks at most once per this many ms, however many callers: concurrent and repeated requests share
 * one result (the edge exempts /health from its rate limit, so this bounds what callers can make the database do).
 */
export const HEALTH_CACHE_MS = 1000;

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = fastify({
    logger: deps.logger,
    disableRequestLogging: true,
    requestIdHeader: "x-request-id",
  });

  // Logged on arrival, not completion, so a request retried by the proxy shows up twice.
  app.addHook("onRequest", async (request) => {
    const fields = requestLogFields(request.headers["x-request-id"], request.method, request.url);
    if (fields) app.log.info(fields, "request");
  });

  // Every answered request except the scrapes themselves, labelled by the matched route pattern (src/api/metrics.ts).
  const metrics = deps.metrics ?? createMetrics({ version: deps.version, poolStats: deps.store.poolStats, walArchiver: deps.store.walArchiver?.bind(deps.store), replicationSlots: deps.store.replicationSlots?.bind(deps.store) });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== METRICS_PATH) metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get(METRICS_PATH, async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });

  // While draining, every response closes its connection: a keep-alive client (or proxy) that kept
  // reusing it would otherwise hold the server open after close() and never move to a new replica.
  app.addHook("onSend", async (_request, reply) => {
    if (deps.isDraining()) reply.header("connection", "close");
  });

  // Readiness (the edge and Docker route on it): see readinessReport. Once the database has answered, the
  // replica stays ready through database restarts; only the requests that need the database fail then.
  let reachedDatabase = false;
  app.get("/up", async (request, reply) => {
    let lastError: string | undefined;
    if (!reachedDatabase && !deps.isDraining()) {
      await deps.store.ping(DB_CHECK_TIMEOUT_MS).then(
        () => (reachedDatabase = true),
        (error: Error) => (lastError = error.message),
      );
    }
    const report = readinessReport(deps.version, deps.isDraining(), reachedDatabase, lastError, isLoopback(request.ip));
    return reply.code(report.statusCode).send(report.body);
  });

  // A request that needs the database while it cannot be reached gets a fast, plain 503 (not a 500).
  app.setErrorHandler(async (error, request, reply) => {
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error.message }, "database unavailable");
      return reply.code(503).header("retry-after", "2").send({ error: "database unavailable", retryable: true });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, "request failed");
    return reply.code(status).send({ error: status >= 500 ? "internal error" : error.message });
  });

  // Dependencies, for operators and monitoring (not for routing): 200, or 503 naming the failing check.
  const runChecks = async (): Promise<Record<string, CheckResult>> => {
    const checks: Record<string, CheckResult> = {};
    checks.db = await deps.store.ping(DB_CHECK_TIMEOUT_MS).then(
      (): CheckResult => ({ ok: true }),
      (error: Error): CheckResult => ({ ok: false, error: error.message }),
    );
    // backup.wal: whether the database's WAL still reaches its archive (no check when it does not archive)
    if (checks.db.ok && deps.store.walArchiver) {
      const wal = await deps.store.walArchiver().then(walArchiveCheck, (error: Error): CheckResult => ({ ok: false, error: error.message }));
      if (wal) checks.walArchive = wal;
    }
    return checks;
  };
  // One round of checks at a time; its result serves every caller until HEALTH_CACHE_MS after it finished.
  let cached: { settledAt?: number; checks: Promise<Record<string, CheckResult>> } | undefined;
  app.get("/health", async (request, reply) => {
    let checks: Record<string, CheckResult> = {};
    if (!deps.isDraining()) {
      if (!cached || (cached.settledAt !== undefined && Date.now() - cached.settledAt >= HEALTH_CACHE_MS)) {
        const round: NonNullable<typeof cached> = { checks: runChecks().finally(() => (round.settledAt = Date.now())) };
        cached = round;
      }
      checks = await cached.checks;
    }
    const report = healthReport(deps.version, checks, deps.isDraining(), isLoopback(request.ip));
    return reply.code(report.statusCode).header("cache-control", "no-store").send(report.body);
  });

  app.get("/items", async () => deps.store.listItems());

  app.post("/items", async (request, reply) => {
    const input = parseItemInput(request.body);
    if (!input.ok) return reply.code(400).send({ error: input.error });
    return reply.code(201).send(await deps.store.insertItem(input.name));
  });

  // The test-only /slow is not here: src/api/server.ts adds it when the image carries it (src/api/slow.ts).

  return app;
}
