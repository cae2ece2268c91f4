// GET|POST /slow?ms=N, the test-only endpoint drain tests and benchmarks use to hold a request open. Test-only:
// the production image is built without this module (images/api/Dockerfile, build arg TEST_ROUTES), and
// src/api/server.ts registers the routes only when the module is there.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export const SLOW_MAX_MS = 10_000;
export const SLOW_DEFAULT_MS = 1_000;

export type SlowMs = { ok: true; ms: number } | { ok: false; error: string };

/** Whole milliseconds, capped at SLOW_MAX_MS; missing means SLOW_DEFAULT_MS. */
export function parseSlowMs(raw: unknown): SlowMs {
  if (raw === undefined || raw === "") return { ok: true, ms: SLOW_DEFAULT_MS };
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (typeof text !== "string" || !/^\d+$/.test(text.trim())) {
    return { ok: false, error: `ms must be a non-negative integer number of milliseconds, got ${JSON.stringify(text)}` };
  }
  return { ok: true, ms: Math.min(Number(text.trim()), SLOW_MAX_MS) };
}

/** GET and POST /slow on `app`: sleeps the parsed time, then answers 200 `{ sleptMs, version }`; a bad `ms` is 400. */
export function registerSlowRoutes(app: FastifyInstance, version: string): void {
  const slow = async (request: FastifyRequest<{ Querystring: { ms?: string } }>, reply: FastifyReply) => {
    const parsed = parseSlowMs(request.query.ms);
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
    await new Promise((resolve) => setTimeout(resolve, parsed.ms));
    return reply.code(200).send({ sleptMs: parsed.ms, version });
  };
  app.get("/slow", slow);
  app.post("/slow", slow);
}
