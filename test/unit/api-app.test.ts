// Unit tests for the HTTP routes (src/api/app.ts) with an in-memory store, via fastify.inject.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildApp, HEALTH_CACHE_MS } from "../../src/api/app";
import { registerSlowRoutes } from "../../src/api/slow";
import type { Item, Store } from "../../src/api/store";

function memoryStore(dbUp = true): Store {
  const items: Item[] = [];
  return {
    ping: async () => {
      if (!dbUp) throw new Error("connection refused");
    },
    insertItem: async (name) => {
      const item = { id: items.length + 1, name, created_at: new Date(0).toISOString() };
      items.push(item);
      return item;
    },
    listItems: async () => items,
    close: async () => {},
  };
}

function app(options: { dbUp?: boolean; draining?: boolean } = {}) {
  return buildApp({ store: memoryStore(options.dbUp ?? true), version: "t1", isDraining: () => options.draining ?? false, logger: false });
}

test("GET /health: 200 ok, 503 naming db when it is down, 503 draining with connection: close", async () => {
  const ok = await app().inject({ url: "/health" });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { status: "ok", version: "t1", checks: { db: "ok" } });
  const down = await app({ dbUp: false }).inject({ url: "/health" });
  assert.equal(down.statusCode, 503);
  assert.deepEqual(down.json().failing, ["db"]);
  const draining = await app({ draining: true }).inject({ url: "/health" });
  assert.equal(draining.statusCode, 503);
  assert.equal(draining.json().status, "draining");
  assert.equal(draining.headers.connection, "close");
});

test("GET /health from outside the replica (through the edge): which check fails, not why; on its loopback the reason; /up likewise", async () => {
  const outside = await app({ dbUp: false }).inject({ url: "/health", remoteAddress: "172.18.0.5" });
  assert.equal(outside.statusCode, 503);
  assert.deepEqual(outside.json(), { status: "fail", version: "t1", checks: { db: "fail" }, failing: ["db"] });
  assert.ok(!outside.body.includes("connection refused"), "no database error text for outside callers");
  for (const local of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
    const inside = await app({ dbUp: false }).inject({ url: "/health", remoteAddress: local });
    assert.deepEqual(inside.json().errors, { db: "connection refused" }, `${local}: Docker's probe and docker exec see why`);
  }
  const startingOutside = await app({ dbUp: false }).inject({ url: "/up", remoteAddress: "10.0.0.9" });
  assert.equal(startingOutside.statusCode, 503);
  assert.equal(startingOutside.json().error, undefined);
});

test("GET /health: one round of checks serves concurrent and repeated callers for HEALTH_CACHE_MS after it finished", async () => {
  let pings = 0;
  const store = { ...memoryStore(), ping: async () => { pings++; await new Promise((r) => setTimeout(r, 50)); } };
  const api = buildApp({ store, version: "t1", isDraining: () => false, logger: false });
  const answers = await Promise.all(Array.from({ length: 20 }, () => api.inject({ url: "/health" })));
  assert.deepEqual([...new Set(answers.map((a) => a.statusCode))], [200]);
  assert.equal(answers[0]!.headers["cache-control"], "no-store");
  assert.equal((await api.inject({ url: "/health" })).statusCode, 200);
  assert.equal(pings, 1, "20 concurrent callers and one right after: one database round trip");
  await new Promise((r) => setTimeout(r, HEALTH_CACHE_MS + 20));
  await api.inject({ url: "/health" });
  assert.equal(pings, 2, "a caller after the window gets a fresh check");
});

test("POST /items then GET /items; invalid body is 400", async () => {
  const api = app();
  const created = await api.inject({ method: "POST", url: "/items", payload: { name: "widget" } });
  assert.equal(created.statusCode, 201);
  assert.equal(created.json().name, "widget");
  assert.deepEqual((await api.inject({ url: "/items" })).json().map((i: Item) => i.name), ["widget"]);
  assert.equal((await api.inject({ method: "POST", url: "/items", payload: { name: "" } })).statusCode, 400);
});

test("GET and POST /slow (registered by server.ts when the image carries them) sleep the parsed time; bad ms is 400", async () => {
  assert.equal((await app().inject({ url: "/slow?ms=5" })).statusCode, 404, "buildApp alone serves no test-only route");
  const api = app();
  registerSlowRoutes(api, "t1");
  for (const method of ["GET", "POST"] as const) {
    const response = await api.inject({ method, url: "/slow?ms=5" });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().sleptMs, 5);
  }
  assert.equal((await api.inject({ url: "/slow?ms=soon" })).statusCode, 400);
});

test("GET /up: 503 starting until the database answered once, then 200 even while it is down; 503 draining", async () => {
  let dbUp = false;
  let draining = false;
  const store = { ...memoryStore(), ping: async () => { if (!dbUp) throw new Error("connect ECONNREFUSED"); } };
  const api = buildApp({ store, version: "t1", isDraining: () => draining, logger: false });
  const starting = await api.inject({ url: "/up" });
  assert.equal(starting.statusCode, 503);
  assert.equal(starting.json().status, "starting");
  assert.match(starting.json().error, /ECONNREFUSED/);
  dbUp = true;
  assert.equal((await api.inject({ url: "/up" })).statusCode, 200);
  dbUp = false; // a database restart: readiness holds, /health reports it
  assert.equal((await api.inject({ url: "/up" })).statusCode, 200);
  assert.equal((await api.inject({ url: "/health" })).statusCode, 503);
  draining = true;
  const drained = await api.inject({ url: "/up" });
  assert.equal(drained.statusCode, 503);
  assert.equal(drained.json().status, "draining");
});

test("a route that needs an unreachable database answers 503 with retry-after, not 500", async () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.2:5432"), { code: "ECONNREFUSED" });
  const store = { ...memoryStore(), insertItem: async () => { throw refused; }, listItems: async () => { throw new Error("boom"); } };
  const api = buildApp({ store, version: "t1", isDraining: () => false, logger: false });
  const res = await api.inject({ method: "POST", url: "/items", payload: { name: "x" } });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers["retry-after"], "2");
  assert.deepEqual(res.json(), { error: "database unavailable", retryable: true });
  const other = await api.inject({ url: "/items" });
  assert.equal(other.statusCode, 500);
  assert.deepEqual(other.json(), { error: "internal error" });
});
