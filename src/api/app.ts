// The demo API's HTTP routes (fastify), wired to a Store; no process or signal handling here.
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { healthReport, type CheckResult } from "./health";
import { parseItemInput } from "./items";
import { requestLogFields } from "./request-log";
import { parseSlowMs } from "./slow";
import type { Store } from "./store";

export interface AppDeps {
  store: Store;
  version: string;
  isDraining: () => boolean;
  /** true: JSON logs to stdout (pino); false in tests. */
  logger: boolean;
}

const DB_CHECK_TIMEOUT_MS = 2000;

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

  // While draining, every response closes its connection: a keep-alive client (or proxy) that kept
  // reusing it would otherwise hold the server open after close() and never move to a new replica.
  app.addHook("onSend", async (_request, reply) => {
    if (deps.isDraining()) reply.header("connection", "close");
  });

  app.get("/health", async (_request, reply) => {
    const checks: Record<string, CheckResult> = {};
    if (!deps.isDraining()) {
      checks.db = await deps.store.ping(DB_CHECK_TIMEOUT_MS).then(
        (): CheckResult => ({ ok: true }),
        (error: Error): CheckResult => ({ ok: false, error: error.message }),
      );
    }
    const report = healthReport(deps.version, checks, deps.isDraining());
    return reply.code(report.statusCode).send(report.body);
  });

  app.get("/items", async () => deps.store.listItems());

  app.post("/items", async (request, reply) => {
    const input = parseItemInput(request.body);
    if (!input.ok) return reply.code(400).send({ error: input.error });
    return reply.code(201).send(await deps.store.insertItem(input.name));
  });

  const slow = async (request: FastifyRequest<{ Querystring: { ms?: string } }>, reply: FastifyReply) => {
    const parsed = parseSlowMs(request.query.ms);
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
    await new Promise((resolve) => setTimeout(resolve, parsed.ms));
    return reply.code(200).send({ sleptMs: parsed.ms, version: deps.version });
  };
  app.get("/slow", slow);
  app.post("/slow", slow);

  return app;
}
