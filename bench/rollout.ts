// Benchmark: one 3-replica rollout under load, slipway (drain at the edge) beside Docker Swarm
// (start-first, parallelism 1, --endpoint-mode dnsrr), same images, same edge, same load, both app builds.
// Prints requests, failed requests by kind, duplicated POSTs, p50/p99, rollout wall time and rollout time
// divided by the floor (sum per replica of container start + time to healthy, measured by slipway's
// executor on the same image). Writes bench/results/rollout-<time>.json. Leaves the machine as it found it
// (swarm left again if it was inactive, every container/network/image it made removed).
//   npm run bench:rollout            (SLIPWAY_IMAGE_TAG=<tag> to use already-built images)
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { converge, observe } from "../src/rollout";
import type { ExecutorContext, ReplicaSpec } from "../src/rollout";
import { demuxLogs } from "../src/docker";
import { sleep } from "../src/vocabulary";
import { ImageRefs, testImages } from "../test/support/docker-images";
import { API_HEALTHCHECK, EdgeEnvironment, HEALTHCHECK_TIMEOUT_MS, startEdgeEnvironment, TEST_ROLLOUT_TIMEOUTS } from "../test/support/edge";
import { checkExecutions, countArrivals, LoadReport, startLoad } from "../test/support/load";

export interface Figures {
  system: "slipway" | "swarm";
  build: "graceful" | "abrupt";
  requests: number;
  ok: number;
  failed: number;
  non2xx: Record<string, number>;
  errors: Record<string, number>;
  timeouts: number;
  duplicatedPosts: number;
  duplicatedAll: number;
  p50Ms: number;
  p99Ms: number;
  rolloutS: number;
  floorS: number;
  rolloutOverFloor: number;
}

const LOAD = { connections: 100, maxSeconds: 300, slowShare: 0.2, slowMs: 1000, fastMs: 50, postShare: 0.5 };

function docker(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("docker", args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`docker ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout.trim()),
    ),
  );
}


async function containerLogs(env: EdgeEnvironment, ids: string[]): Promise<string[]> {
  return Promise.all(
    ids.map(async (id) => demuxLogs((await env.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer)),
  );
}

function figures(system: Figures["system"], build: Figures["build"], r: LoadReport, logs: string[], idPrefix: string, rolloutMs: number, floorMs: number): Figures {
  const check = checkExecutions(r, countArrivals(logs, idPrefix));
  return {
    system, build, requests: r.requests, ok: r.ok, failed: r.failed, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
    duplicatedPosts: check.duplicatedPosts, duplicatedAll: check.duplicated.length, p50Ms: r.latencyP50Ms, p99Ms: r.latencyP99Ms,
    rolloutS: rolloutMs / 1000, floorS: floorMs / 1000, rolloutOverFloor: floorMs > 0 ? rolloutMs / floorMs : NaN,
  };
}

/** slipway: returns figures and the measured floor (sum of start + healthy of the new replicas). */
async function benchSlipway(refs: ImageRefs, build: Figures["build"]): Promise<Figures> {
  const image = build === "graceful" ? refs.api : refs.apiAbrupt;
  const env = await startEdgeEnvironment({ edgeImage: refs.edge, apiImage: refs.api, postgresImage: refs.postgres, prefix: "bs" });
  try {
    const removed: string[] = [];
    let floorMs = 0;
    const ctx: ExecutorContext = {
      docker: env.docker,
      edge: env.edgeTarget,
      timeouts: TEST_ROLLOUT_TIMEOUTS,
      log: (l) => console.log(`  ${l}`),
      onContainerLogs: (_n, text) => removed.push(text),
      onStep: (step, ms) => {
        if (step.kind === "start-new" || step.kind === "wait-healthy") floorMs += ms;
      },
    };
    const spec = (img: string, v: string): ReplicaSpec => env.apiSpec(img, { env: { DATABASE_URL: env.databaseUrl, PORT: "3000", APP_VERSION: v } });
    const v1 = spec(image, "v1");
    await converge(ctx, v1);
    const v2 = spec(await env.retag(image, "v2"), "v2");
    const load = startLoad({ url: env.url, ...LOAD });
    await sleep(3000);
    floorMs = 0;
    const t0 = Date.now();
    await converge(ctx, v2, v1);
    const rolloutMs = Date.now() - t0;
    await sleep(3000);
    const report = await load.stop();
    const live = (await observe(env.docker, env.stack, "api")).map((c) => c.name);
    return figures("slipway", build, report, [...removed, ...(await containerLogs(env, live))], load.idPrefix, rolloutMs, floorMs);
  } finally {
    await env.cleanup();
  }
}

/** Docker Swarm doing the same image update behind the same edge (also the baseline of bench:deploy). */
export async function benchSwarm(
  refs: ImageRefs,
  build: Figures["build"],
  floorMs: number,
  load: Parameters<typeof startLoad>[0] extends infer O ? Omit<O, "url"> : never = LOAD,
  onReport?: (report: LoadReport, idPrefix: string, env: EdgeEnvironment) => Promise<void>,
): Promise<Figures> {
  const image = build === "graceful" ? refs.api : refs.apiAbrupt;
  const env = await startEdgeEnvironment({ edgeImage: refs.edge, apiImage: refs.api, postgresImage: refs.postgres, prefix: "bw", networkDriver: "overlay" });
  const service = `${env.stack}-api`;
  try {
    const v2image = await env.retag(image, "v2");
    const hc = API_HEALTHCHECK.slice(1).join(" ");
    await docker(
      "service", "create", "--detach=false", "--quiet", "--no-resolve-image", "--name", service,
      "--network", `name=${env.network},alias=api`, "--endpoint-mode", "dnsrr", "--replicas", "3",
      "--env", `DATABASE_URL=${env.databaseUrl}`, "--env", "PORT=3000", "--env", "APP_VERSION=v1",
      "--health-cmd", hc, "--health-interval", "1s", "--health-timeout", `${HEALTHCHECK_TIMEOUT_MS / 1000}s`, "--health-retries", "5", "--health-start-period", "10s",
      "--limit-memory", "256m", "--limit-cpu", "0.5", "--stop-grace-period", "10s", "--restart-condition", "on-failure",
      image,
    );
    // Wait until the edge has all three up, as slipway's converge does before the load starts.
    await sleep(5000);
    const running = startLoad({ url: env.url, ...load });
    await sleep(3000);
    const t0 = Date.now();
    await docker(
      "service", "update", "--detach=false", "--quiet", "--no-resolve-image", "--image", v2image, "--env-add", "APP_VERSION=v2",
      "--update-order", "start-first", "--update-parallelism", "1", service,
    );
    const rolloutMs = Date.now() - t0;
    await sleep(3000);
    const report = await running.stop();
    await onReport?.(report, running.idPrefix, env);
    const ids = (await docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${service}`)).split("\n").filter(Boolean);
    const logs = await containerLogs(env, ids);
    return figures("swarm", build, report, logs, running.idPrefix, rolloutMs, floorMs);
  } finally {
    await docker("service", "rm", service).catch(() => undefined);
    for (let i = 0; i < 60; i++) {
      if ((await docker("ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${service}`)) === "") break;
      await sleep(500);
    }
    await env.cleanup();
  }
}

/** Runs `fn` with this engine in swarm mode, leaving the machine as it was (swarm, docker_gwbridge). */
export async function inSwarm(fn: () => Promise<void>): Promise<void> {
  const swarmWas = await docker("info", "--format", "{{.Swarm.LocalNodeState}}");
  // `swarm leave` keeps the docker_gwbridge network that `swarm init` made: remove it too if it was not there.
  const gwbridgeWas = (await docker("network", "ls", "-q", "--filter", "name=^docker_gwbridge$")) !== "";
  if (swarmWas !== "active") await docker("swarm", "init", "--advertise-addr", "127.0.0.1");
  try {
    await fn();
  } finally {
    if (swarmWas !== "active") {
      await docker("swarm", "leave", "--force").catch((e) => console.error(`could not leave the swarm: ${(e as Error).message}`));
      if (!gwbridgeWas) await docker("network", "rm", "docker_gwbridge").catch((e) => console.error(`could not remove docker_gwbridge: ${(e as Error).message}`));
    }
  }
}

function table(rows: Figures[]): string {
  const head = ["system", "build", "requests", "failed", "non-2xx", "errors", "timeouts", "dup POSTs", "p50 ms", "p99 ms", "rollout s", "floor s", "rollout/floor"];
  const body = rows.map((r) => [
    r.system, r.build, String(r.requests), String(r.failed), JSON.stringify(r.non2xx), JSON.stringify(r.errors), String(r.timeouts),
    String(r.duplicatedPosts), String(r.p50Ms), String(r.p99Ms), r.rolloutS.toFixed(1), r.floorS.toFixed(1), r.rolloutOverFloor.toFixed(2),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(width[i])).join("  ")).join("\n");
}

async function main() {
  const refs = await testImages();
  const rows: Figures[] = [];
  const floors: Record<string, number> = {};
  for (const build of ["graceful", "abrupt"] as const) {
    console.log(`slipway, ${build} build`);
    const f = await benchSlipway(refs, build);
    floors[build] = f.floorS * 1000;
    rows.push(f);
  }
  await inSwarm(async () => {
    for (const build of ["graceful", "abrupt"] as const) {
      console.log(`swarm, ${build} build`);
      rows.push(await benchSwarm(refs, build, floors[build]));
    }
  });
  console.log(`\nOne rollout of 3 replicas under load (${LOAD.connections} connections, ${LOAD.postShare * 100}% POST, ${LOAD.slowShare * 100}% of requests ${LOAD.slowMs} ms, rest ${LOAD.fastMs} ms).`);
  console.log("floor = sum over new replicas of container start + time to healthy, measured by slipway on the same image.\n");
  console.log(table(rows));
  const dir = path.join(__dirname, "results");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `rollout-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify({ images: refs, load: LOAD, results: rows }, null, 2));
  console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    // A report, not a stack trace: what failed, and where to look.
    console.error(`bench:rollout failed: ${e.message}${process.env.SLIPWAY_DEBUG ? `\n${e.stack}` : " (SLIPWAY_DEBUG=1 for the stack)"}`);
    process.exit(1);
  });
}
