// End to end, real Docker: 3 API replicas behind the HAProxy edge, rolled to a new image under load
// (100 connections, GET/POST `/slow` mix with unique ids) with the graceful and the abrupt app build:
// no failed request, no request executed twice. Then a rollout to an image whose health check fails:
// no failed request, an error naming the replica and why, the old version still serving.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { converge, observe, ReplicaSpec } from "../../src/rollout";
import type { ExecutorContext } from "../../src/rollout";
import { demuxLogs } from "../../src/docker";
import { revisionOfSpec } from "../../src/rollout/spec";
import { sleep } from "../../src/vocabulary";
import { ImageRefs, testImages } from "../support/docker-images";
import { EdgeEnvironment, startEdgeEnvironment, TEST_ROLLOUT_TIMEOUTS } from "../support/edge";
import { edgeErrorLines } from "../support/edge-log";
import { checkExecutions, countArrivals, LoadReport, startLoad } from "../support/load";


describe("rollout behind the edge, under load", { timeout: 20 * 60_000 }, () => {
  let refs: ImageRefs;
  let env: EdgeEnvironment;
  let ctx: ExecutorContext;
  const removedLogs = new Map<string, string>();
  const lines: string[] = [];
  let current: ReplicaSpec;

  before(async () => {
    refs = await testImages();
    env = await startEdgeEnvironment({ edgeImage: refs.edge, apiImage: refs.api, postgresImage: refs.postgres });
    ctx = {
      docker: env.docker,
      edge: env.edgeTarget,
      timeouts: TEST_ROLLOUT_TIMEOUTS,
      log: (l) => {
        lines.push(l);
        console.log(l);
      },
      onContainerLogs: (name, text) => removedLogs.set(name, text),
    };
  });

  after(async () => {
    await env?.cleanup();
  });

  const spec = (image: string, version: string) => env.apiSpec(image, { env: { DATABASE_URL: env.databaseUrl, PORT: "3000", APP_VERSION: version } });

  /** Rolls to `next` under load; returns the load report and the duplicate check over all replicas' logs. */
  async function rollUnderLoad(next: ReplicaSpec) {
    const load = startLoad({ url: env.url, connections: 100, maxSeconds: 240, slowShare: 0.2, slowMs: 1000, fastMs: 50 });
    await sleep(2000);
    const t0 = Date.now();
    let error: Error | undefined;
    try {
      await converge(ctx, next, current);
      current = next;
    } catch (e) {
      error = e as Error;
    }
    const rolloutMs = Date.now() - t0;
    await sleep(2000);
    const report = await load.stop();
    const logs = [...removedLogs.values()];
    for (const c of await observe(env.docker, env.stack, "api")) {
      logs.push(demuxLogs((await env.docker.getContainer(c.name).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer));
    }
    const check = checkExecutions(report, countArrivals(logs, load.idPrefix));
    console.log(summary(next.image, report, check.duplicatedPosts, check.duplicated.length, rolloutMs));
    return { report, check, rolloutMs, error };
  }

  async function assertClean(report: LoadReport, check: ReturnType<typeof checkExecutions>) {
    assert.ok(report.ok > 300, `only ${report.ok} requests answered: the load did not run`);
    if (Object.keys(report.non2xx).length > 0) console.log(await edgeErrorLines(env.docker, env.stack));
    assert.deepEqual(report.non2xx, {}, "non-2xx responses");
    assert.deepEqual(report.errors, {}, "connection errors");
    assert.equal(report.timeouts, 0, "timeouts");
    assert.deepEqual(check.duplicated, [], "requests executed twice");
    assert.equal(check.answeredButNotLogged, 0, "answered requests missing from the logs (log capture incomplete)");
  }

  async function assertRunning(s: ReplicaSpec) {
    const observed = await observe(env.docker, env.stack, "api");
    assert.deepEqual(
      observed.map((c) => [c.revision, c.running]).sort(),
      [1, 2, 3].map(() => [revisionOfSpec(s), true]),
      `expected exactly 3 running replicas of one revision, got ${JSON.stringify(observed)}`,
    );
  }

  it("graceful build: rollout to a new image with zero failed and zero duplicated requests", async () => {
    current = spec(refs.api, "v1");
    await converge(ctx, current);
    const v2 = spec(await env.retag(refs.api, "v2"), "v2");
    const { report, check, error } = await rollUnderLoad(v2);
    assert.equal(error, undefined);
    await assertClean(report, check);
    await assertRunning(v2);
  });

  it("failing health check: rolls back, names the replica and the reason, zero failed requests", async () => {
    const brokenImage = await env.derive(refs.api, "broken", [
      // Listens, but cannot reach its database: /health answers 503, so the health check fails.
      `CMD ["sh", "-c", "DATABASE_URL=postgres://nobody:x@db:5432/nowhere exec node dist/api/server.js"]`,
    ]);
    const before = current;
    const { report, check, error } = await rollUnderLoad(spec(brokenImage, "broken"));
    assert.ok(error, "the rollout should have failed");
    console.log(error.message);
    assert.match(error.message, new RegExp(`replica ${env.stack}-api-[0-9a-f]{8}-1 `));
    assert.match(error.message, /is unhealthy|not healthy within|exited/);
    assert.match(error.message, /Last health check: exit \d+/);
    assert.match(error.message, /Last log lines of/);
    assert.match(error.message, /back on revision/);
    await assertClean(report, check);
    await assertRunning(before);
    const health = (await (await fetch(`${env.url}/health`)).json()) as { version?: string };
    assert.equal(health.version, "v2", "the previous version still serves");
  });

  it("failure at replica 2: replica 1, already replaced, is put back; one version at the end", async () => {
    // Only the first container of this image to claim a row in the database gets a working DATABASE_URL.
    await env.sql("CREATE TABLE IF NOT EXISTS rollout_claim (id int PRIMARY KEY)");
    const claim = [
      'const { Client } = require("pg");',
      "const c = new Client({ connectionString: process.env.DATABASE_URL });",
      "c.connect().then(() => c.query(\"INSERT INTO rollout_claim VALUES (1)\")).then(() => process.exit(0), () => process.exit(1));",
    ].join("\n");
    const secondFails = await env.derive(
      refs.api,
      "second-fails",
      [
        "COPY claim.js /app/claim.js",
        `CMD ["sh", "-c", "if node claim.js; then exec node dist/api/server.js; else DATABASE_URL=postgres://nobody:x@db:5432/nowhere exec node dist/api/server.js; fi"]`,
      ],
      [{ path: "claim.js", content: claim }],
    );
    const before = current;
    const replacedFirst = lines.length;
    const { report, check, error } = await rollUnderLoad(spec(secondFails, "second-fails"));
    assert.ok(error, "the rollout should have failed");
    assert.match(error.message, new RegExp(`replica ${env.stack}-api-[0-9a-f]{8}-2 `));
    const log = lines.slice(replacedFirst).join("\n");
    assert.match(log, /api-[0-9a-f]{8}-1\): healthy/, "replica 1 of the new image came up first");
    assert.match(log, new RegExp(`replace ${env.stack}-api-[0-9a-f]{8}-1 with ${env.stack}-api-${revisionOfSpec(before).slice(0, 8)}-1`), "and was swapped back");
    await assertClean(report, check);
    await assertRunning(before);
  });

  it("abrupt build: rollout to a new image with zero failed and zero duplicated requests", async () => {
    const a1 = spec(refs.apiAbrupt, "a1");
    await converge(ctx, a1, current);
    current = a1;
    const a2 = spec(await env.retag(refs.apiAbrupt, "a2"), "a2");
    const { report, check, error } = await rollUnderLoad(a2);
    assert.equal(error, undefined);
    await assertClean(report, check);
    await assertRunning(a2);
  });
});

function summary(image: string, r: LoadReport, dupPosts: number, dups: number, rolloutMs: number): string {
  return (
    `[load] ${image}: ${r.requests} requests, ${r.ok} ok, non-2xx ${JSON.stringify(r.non2xx)}, errors ${JSON.stringify(r.errors)}, ` +
    `timeouts ${r.timeouts}, executed twice ${dups} (POST ${dupPosts}), p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms, rollout ${(rolloutMs / 1000).toFixed(1)} s`
  );
}
