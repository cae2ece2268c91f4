// Unit tests for the API's /metrics (src/api/metrics.ts wired in src/api/app.ts), via fastify.inject.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildApp } from "../../src/api/app";
import { registerSlowRoutes } from "../../src/api/slow";
import { createMetrics, type PoolStats } from "../../src/api/metrics";
import type { Item, Store } from "../../src/api/store";

function memoryStore(pool?: PoolStats): Store {
  const items: Item[] = [];
  const store: Store = {
    ping: async () => {},
    insertItem: async (name) => {
      const item = { id: items.length + 1, name, created_at: new Date(0).toISOString() };
      items.push(item);
      return item;
    },
    listItems: async () => {
      if (items.some((i) => i.name === "boom")) throw new Error("kaput");
      return items;
    },
    close: async () => {},
  };
  if (pool) store.poolStats = () => pool;
  return store;
}

/** The value of one sample line `name{labels} value` (labels in prom-client's order), or undefined. */
function sample(body: string, series: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("GET /metrics: Prometheus text with request counts and latency by route pattern and status, not by raw URL", async () => {
  const api = buildApp({ store: memoryStore(), version: "t1", isDraining: () => false, logger: false });
  registerSlowRoutes(api, "t1"); // added after buildApp, as server.ts does: still counted by the app's hooks
  await api.inject({ url: "/slow?ms=1" });
  await api.inject({ url: "/slow?ms=2" });
  await api.inject({ url: "/slow?ms=nope" });
  await api.inject({ method: "POST", url: "/items", payload: { name: "a" } });
  await api.inject({ url: "/no/such/path/123" });
  await api.inject({ url: "/no/such/path/456" });

  const response = await api.inject({ url: "/metrics" });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const body = response.body;
  assert.equal(sample(body, 'http_requests_total{method="GET",route="/slow",status_code="200"}'), 2);
  assert.equal(sample(body, 'http_requests_total{method="GET",route="/slow",status_code="400"}'), 1);
  assert.equal(sample(body, 'http_requests_total{method="POST",route="/items",status_code="201"}'), 1);
  // Unmatched URLs share one series; raw paths and query strings never become labels.
  assert.equal(sample(body, 'http_requests_total{method="GET",route="unmatched",status_code="404"}'), 2);
  assert.doesNotMatch(body, /ms=|\/no\/such/);
  assert.equal(sample(body, 'http_request_duration_seconds_count{method="GET",route="/slow",status_code="200"}'), 2);
  assert.equal(sample(body, 'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/slow",status_code="200"}'), 2);
  assert.ok((sample(body, 'http_request_duration_seconds_sum{method="GET",route="/slow",status_code="200"}') ?? 0) >= 0.003);
  assert.equal(sample(body, 'api_info{version="t1"}'), 1);
  // prom-client's process defaults are there.
  assert.match(body, /^process_cpu_user_seconds_total /m);
  assert.match(body, /^nodejs_heap_size_used_bytes /m);
});

test("/metrics itself is not counted as traffic", async () => {
  const api = buildApp({ store: memoryStore(), version: "t1", isDraining: () => false, logger: false });
  for (let i = 0; i < 3; i++) assert.equal((await api.inject({ url: "/metrics" })).statusCode, 200);
  const body = (await api.inject({ url: "/metrics" })).body;
  assert.doesNotMatch(body, /route="\/metrics"/);
  assert.doesNotMatch(body, /^http_requests_total\{/m);
});

test("5xx answers count as errors by route; 4xx do not", async () => {
  const api = buildApp({ store: memoryStore(), version: "t1", isDraining: () => false, logger: false });
  await api.inject({ method: "POST", url: "/items", payload: { name: "boom" } });
  await api.inject({ url: "/items" }); // the store throws: 500
  await api.inject({ url: "/items" });
  await api.inject({ method: "POST", url: "/items", payload: { name: "" } }); // 400
  const body = (await api.inject({ url: "/metrics" })).body;
  assert.equal(sample(body, 'http_request_errors_total{method="GET",route="/items",status_code="500"}'), 2);
  assert.equal(sample(body, 'http_requests_total{method="GET",route="/items",status_code="500"}'), 2);
  assert.doesNotMatch(body, /http_request_errors_total\{[^}]*status_code="4/);
});

test("database pool gauges read the store's pool at scrape time; none without a pool", async () => {
  const pool = { total: 4, idle: 1, waiting: 0 };
  const api = buildApp({ store: memoryStore(pool), version: "t1", isDraining: () => false, logger: false });
  let body = (await api.inject({ url: "/metrics" })).body;
  assert.deepEqual([sample(body, "db_pool_clients"), sample(body, "db_pool_idle_clients"), sample(body, "db_pool_waiting_clients")], [4, 1, 0]);
  Object.assign(pool, { total: 10, idle: 0, waiting: 7 });
  body = (await api.inject({ url: "/metrics" })).body;
  assert.deepEqual([sample(body, "db_pool_clients"), sample(body, "db_pool_idle_clients"), sample(body, "db_pool_waiting_clients")], [10, 0, 7]);

  const noPool = (await buildApp({ store: memoryStore(), version: "t1", isDraining: () => false, logger: false }).inject({ url: "/metrics" })).body;
  assert.doesNotMatch(noPool, /db_pool_/);
});

test("two apps in one process keep separate metrics (no global registry)", async () => {
  const a = buildApp({ store: memoryStore(), version: "a", isDraining: () => false, logger: false });
  const b = buildApp({ store: memoryStore(), version: "b", isDraining: () => false, logger: false });
  await a.inject({ url: "/items" });
  const body = (await b.inject({ url: "/metrics" })).body;
  assert.doesNotMatch(body, /^http_requests_total\{/m);
  assert.match(body, /api_info\{version="b"\} 1/);
});

test("createMetrics without process metrics renders only the API's own series, cheaply", async () => {
  const metrics = createMetrics({ version: "v", processMetrics: false });
  for (let i = 0; i < 1000; i++) metrics.observe("GET", "/items", 200, 0.002);
  const started = process.hrtime.bigint();
  const { body } = await metrics.render();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.doesNotMatch(body, /^process_/m);
  assert.equal(sample(body, 'http_requests_total{method="GET",route="/items",status_code="200"}'), 1000);
  assert.ok(ms < 50, `render took ${ms} ms`);
});
