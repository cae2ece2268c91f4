// Benchmark of the path users run: a production-shaped stack (3 replicas, backups on, PostgreSQL, the edge)
// brought up with `pulumi up` on the file backend, then, under load through the edge (100 keep-alive connections,
// half `POST /items` writing rows with unique names, the rest `GET /slow` of 300 ms and 3 s), in turn: promote a
// new image, change an API env value, change an edge setting, change the edge image, promote a broken image
// (then restore the config), roll back from history, restart the database container. Per step: failed requests
// by kind and route, rows written vs 2xx POSTs, rows written twice, p50/p99, wall time of the deploy, and whether
// the preview right after it was empty. Same run: Docker Swarm doing the same image update behind the same edge,
// under the same load, as the baseline. With --tls, the same steps run a second time, same run, on a second stack whose
// edge serves HTTPS (a self-signed certificate made with openssl now, given as the stack's Pulumi secrets
// tlsCertificate/tlsKey, edge.tls.enabled), the load going over HTTPS through the edge; one table for both.
// Then (unless --no-strategies), on a third stack: blue-green promote (one switch: the versions a client saw, the
// switch time), a rollback inside the blue-green window (a switch back) beside the rolling rollback above, a canary
// promote (gates passed at 10 and 50 %), and a canary of an image failing half its requests (how many requests
// users saw fail before the gate took it out).
// Then (unless --no-scale), on a fourth stack (staging, production's shape), the cost as the service grows: a promote
// of 1 replica, of 4, then of 12 one at a time (api.rollout.surge 1) and 12 in batches of 4 (surge 4), each under the
// same load, printed beside each other — wall time, the rollout's own span (from its events, SLIPWAY_ROLLOUT_EVENTS), time per replica
// and the 1-minute load average before and after. --only-scale runs just these rows.
// First (unless --no-overhead), with no load, where a deploy's time goes (bench/overhead.ts), on a staging stack (its
// pre-deploy backup unverified: the issue's figure) and a production one (verified): --runs (default 5) promotes of 2
// replicas split into start → first step, each step, after the last step, and the overhead (wall − the rollout's own
// steps); then as many no-op previews and no-op ups. --only-overhead runs just that.
// Figures, no verdicts; a failed step is reported (what failed, one line), not thrown.
// JSON to bench/results/deploy-<time>.json.
// --target swarm: instead, the one-host deploy steps and then the same kinds of deploy on the three-node swarm lab,
// with a worker drained, a node killed, releases of 1 and 12 replicas and plain Swarm's own update as the anchor
// (bench/swarm.ts); with --only-scale, just the swarm stack's first up, its scale rows and the anchor. JSON to
// bench/results/deploy-swarm-<time>.json.
//   npm run bench:deploy [-- --target swarm] [-- --connections 100] [-- --tls] [-- --no-strategies] [-- --no-scale | --only-scale] [-- --no-overhead | --only-overhead] [-- --runs 5]     (SLIPWAY_IMAGE_TAG=<tag> to use already-built images)
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { connectDocker } from "../src/docker";
import { rollbackTarget } from "../src/release/history";
import { history } from "../src/release/stack";
import { type ImageRefs, testImages } from "../test/support/docker-images";
import { deriveApiImage, FAULT_HALF_OF_REQUESTS } from "../test/support/derived-images";
import { describeStep, type LoadShape, restartDatabase, type Scenario, type ScenarioOptions, selfSignedCertificate, startScenario, type StepFigures } from "../test/support/deploy-scenario";
import { countRows, type RowCheck } from "../test/support/load";
import { switches, versionTimeline } from "../test/support/versions";
import { type OverheadFigures, overheadSteps, overheadTable, rolloutSpan } from "./overhead";
import { benchSwarm, type Figures, inSwarm } from "./rollout";
import { reason } from "./failure";
import { type SwarmRow, swarmTable, swarmTargetSteps } from "./swarm";

interface Row {
  system: "slipway" | "swarm";
  /** how the replicas were replaced */
  strategy?: "rolling" | "blue-green" | "canary";
  /** what else was measured: versions seen, switch time, the canary's verdict */
  note?: string;
  /** scale rows: the release's size and batch, its own span, and the machine's load around it */
  scale?: ScaleFigures;
  /** how the load reached the edge */
  edge: "http" | "https";
  figures?: StepFigures;
  swarm?: Figures & { rows?: RowCheck };
  failure?: string;
  step: string;
}

interface ScaleFigures {
  replicas: number;
  surge: number;
  /** first rollout step's start to the last one's end (the events of the provider) */
  rolloutS: number;
  /** rolloutS / replicas */
  perReplicaS: number;
  /** 1-minute load average when the step started and when it ended */
  loadBefore: number;
  loadAfter: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: "string", default: "100" }, tls: { type: "boolean", default: false }, "no-strategies": { type: "boolean", default: false },
      "no-scale": { type: "boolean", default: false }, "only-scale": { type: "boolean", default: false },
      "no-overhead": { type: "boolean", default: false }, "only-overhead": { type: "boolean", default: false }, runs: { type: "string", default: "5" },
      target: { type: "string", default: "docker" },
    },
  });
  if (values.target !== "docker" && values.target !== "swarm") throw new Error(`--target must be docker or swarm, got ${values.target}`);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1, got ${values.runs}`);
  const connections = Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1) throw new Error(`--connections must be a whole number ≥ 1, got ${values.connections}`);
  const load = { connections, settleS: 5 };
  const refs = await testImages();
  const rows: Row[] = [];
  if (values.target === "swarm") return targetSwarm(refs, { connections, settleS: 5 }, values["only-scale"]);

  // Staging is the issue's figure (its pre-deploy backup is not verified); production's verified backup beside it.
  const overhead: OverheadFigures[] = [];
  if ((!values["no-overhead"] && !values["only-scale"]) || values["only-overhead"]) {
    for (const environment of ["staging", "production"] as const) {
      overhead.push(await overheadSteps(refs, runs, `bo${randomBytes(3).toString("hex")}`, environment));
      console.log(`\nWhere a deploy's time goes (no load):\n${overheadTable(overhead.at(-1)!)}`);
    }
  }
  const only = values["only-scale"] || values["only-overhead"];
  if (!only) await deploySteps(rows, "http", refs, load);
  if (!only && !values["no-strategies"]) await strategySteps(rows, refs, load);
  if ((!values["no-scale"] && !values["only-overhead"]) || values["only-scale"]) await scaleSteps(rows, refs, load);
  if (!only && values.tls) {
    let tls: ScenarioOptions["tls"];
    try {
      tls = selfSignedCertificate("bench-deploy");
    } catch (e) {
      const failure = `openssl could not make the bench certificate: ${(e as Error).message.split("\n")[0]}`;
      console.log(`\n== slipway over HTTPS: ${failure}`);
      rows.push({ system: "slipway", edge: "https", step: "initial up", failure });
    }
    if (tls) await deploySteps(rows, "https", refs, load, { tls });
  }

  if (!only) await swarmStep(rows, refs, connections);

  if (rows.length) {
    console.log(`\nLoad: ${connections} keep-alive connections, 50% POST /items (one row each), 50% GET /slow (10% 3 s, rest 300 ms)` +
      `${values.tls ? "; https rows: the same steps on a stack whose edge serves TLS (self-signed, load over HTTPS)" : ""}.\n`);
    console.log(table(rows));
  }
  for (const o of overhead) console.log(`\nWhere a deploy's time goes (no load):\n${overheadTable(o)}`);
  const scaled = rows.filter((r) => r.scale);
  if (scaled.length) console.log(`\nScale (rolling promote under the same load):\n${scaleTable(scaled)}`);
  const failedSteps = rows.filter((r) => r.failure);
  if (failedSteps.length) console.log(`\n${failedSteps.length} step(s) could not be measured: ${failedSteps.map((r) => `${r.system}/${r.edge} "${r.step}"`).join(", ")}`);
  const dir = path.join(__dirname, "results");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `deploy-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify({ images: refs, load, tls: values.tls, loadAverage: loadavg(), results: rows, ...(overhead.length ? { overhead } : {}) }, null, 2));
  console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
}

/**
 * --target swarm: the one-host deploy steps first (the same image set, the same load), then the same kinds of deploy
 * on the three-node lab with the node faults, the scale rows and plain Swarm's own update as the anchor (bench/swarm.ts).
 */
async function targetSwarm(refs: ImageRefs, load: LoadShape, onlyScale = false): Promise<void> {
  const rows: Row[] = [];
  if (!onlyScale) await deploySteps(rows, "http", refs, load);
  const swarm: SwarmRow[] = await swarmTargetSteps(load.connections, onlyScale).catch((e: Error) => [{ step: "the swarm steps", failure: reason(e.message) }]);
  console.log(`\nLoad: ${load.connections} keep-alive connections, 50% POST /items (one row each), 50% GET /slow (10% 3 s, rest 300 ms).`);
  console.log(`\nOne host (target docker, rolling one at a time):\n${table(rows)}`);
  console.log(`\nThree-node swarm lab (target swarm; load through an edge node; the manager dockerHost names is node 1):\n${swarmTable(swarm)}`);
  const failed = [...rows.filter((r) => r.failure).map((r) => `docker "${r.step}"`), ...swarm.filter((r) => r.failure).map((r) => `swarm "${r.step}"`)];
  if (failed.length) console.log(`\n${failed.length} step(s) could not be measured: ${failed.join(", ")}`);
  const dir = path.join(__dirname, "results");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `deploy-swarm-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify({ images: refs, load, loadAverage: loadavg(), docker: rows, swarm }, null, 2));
  console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
}

/** Docker Swarm doing the same image update behind the same edge, same load: the baseline. */
async function swarmStep(rows: Row[], refs: ImageRefs, connections: number): Promise<void> {
  console.log("\n== swarm: the same image update behind the same edge, same load");
  await inSwarm(async () => {
    try {
      let rowCheck: RowCheck | undefined;
      const f = await benchSwarm(refs, "graceful", NaN, { connections, maxSeconds: 600, mix: "items", postShare: 0.5, slowShare: 0.1, slowMs: 3000, fastMs: 300 }, async (report, idPrefix, env) => {
        rowCheck = await countRows(report, idPrefix, env.sql);
      });
      rows.push({ system: "swarm", edge: "http", step: "promote a new image", swarm: { ...f, rows: rowCheck } });
    } catch (e) {
      rows.push({ system: "swarm", edge: "http", step: "promote a new image", failure: (e as Error).message.slice(0, 2000) });
    }
  }).catch((e: Error) => rows.push({ system: "swarm", edge: "http", step: "swarm mode", failure: e.message }));
}

/**
 * The cost of a release as the service grows, on one stack of production's shape, same load: promote at 1 and at 4
 * replicas, at 12 one at a time (surge 1), at 12 in batches of 4 (surge 4). The scale-ups between them are not measured.
 */
async function scaleSteps(rows: Row[], refs: ImageRefs, load: LoadShape): Promise<void> {
  const name = `bz${randomBytes(3).toString("hex")}`;
  const eventsDir = mkdtempSync(path.join(tmpdir(), "slipway-bench-scale-"));
  let scenario: Scenario | undefined;
  /** false once a reconfiguration failed: the later rows would not measure what they say */
  let ready = true;
  const set = (s: Scenario, key: string, value: string) => s.ps.stack.setConfig(key, { value }, true);
  const promote = async (replicas: number, surge: number, version: string) => {
    const step = `promote, ${replicas} replicas, surge ${surge}`;
    if (!scenario || !ready) return rows.push({ system: "slipway", edge: "http", strategy: "rolling", step, failure: scenario ? "the scale-up before it failed" : "the stack did not come up" });
    console.log(`\n== slipway scale: ${step}`);
    const events = path.join(eventsDir, `${version}.jsonl`);
    process.env.SLIPWAY_ROLLOUT_EVENTS = events;
    const loadBefore = loadavg()[0]!;
    try {
      // Built before the load starts: the deploy's wall time is the promote's alone.
      const image = scenario.apiImage(version);
      const f = await scenario.measure(step, load, async () => {
        await set(scenario!, "slipway:images.api", image);
        await scenario!.up(`promote ${image}`);
      });
      const rolloutS = rolloutSpan(events);
      const scale = { replicas, surge, rolloutS, perReplicaS: rolloutS / replicas, loadBefore, loadAfter: loadavg()[0]! };
      console.log(`${describeStep(f)}; rollout ${rolloutS.toFixed(1)} s, ${scale.perReplicaS.toFixed(1)} s per replica, load average ${loadBefore.toFixed(2)} → ${scale.loadAfter.toFixed(2)}`);
      rows.push({ system: "slipway", edge: "http", strategy: "rolling", step, figures: f, scale });
    } catch (e) {
      const failure = (e as Error).message.slice(0, 2000);
      console.log(`FAILED: ${reason(failure)}`);
      rows.push({ system: "slipway", edge: "http", strategy: "rolling", step, failure });
    } finally {
      delete process.env.SLIPWAY_ROLLOUT_EVENTS;
    }
    return undefined;
  };
  try {
    // Staging (production's shape otherwise): production refuses fewer than 2 replicas, and the row of 1 is the unit.
    console.log(`\nbringing up a staging stack ${name} (production's shape) for the scale rows with pulumi up …`);
    scenario = await startScenario(name, refs, () => undefined, { environment: "staging" }).catch((e: Error) => {
      rows.push({ system: "slipway", edge: "http", step: "initial up (scale)", failure: e.message.slice(0, 2000) });
      return undefined;
    });
    // 1 and 4 replicas one at a time: the scale-ups before them are not measured.
    for (const [replicas, version] of [[1, "s1"], [4, "s4"]] as const) {
      if (scenario && ready) {
        await set(scenario, "slipway:api.replicas", String(replicas));
        await scenario.up(`${replicas} replicas`).catch((e: Error) => { ready = false; rows.push({ system: "slipway", edge: "http", step: `scale to ${replicas}`, failure: e.message.slice(0, 2000) }); });
      }
      await promote(replicas, 1, version);
    }
    if (scenario && ready) {
      // 12 replicas and a batch of 4 beside them, with room for the slots a removed replica still holds. Each
      // replica's pool may hold PGPOOL_MAX connections (default 10): 16 × 10 is past PostgreSQL's max_connections
      // (100, 3 of them reserved), and a first run here failed POSTs with "too many clients" — 5 each leaves room.
      await set(scenario, "slipway:edge.slots", "24");
      await set(scenario, "slipway:api.env.PGPOOL_MAX", "5");
      await set(scenario, "slipway:api.replicas", "12");
      await set(scenario, "slipway:api.rollout.surge", "4");
      await scenario.up("12 replicas").catch((e: Error) => { ready = false; rows.push({ system: "slipway", edge: "http", step: "scale to 12", failure: e.message.slice(0, 2000) }); });
    }
    if (scenario) await set(scenario, "slipway:api.rollout.surge", "1");
    await promote(12, 1, "s12a");
    if (scenario) await set(scenario, "slipway:api.rollout.surge", "4");
    await promote(12, 4, "s12b");
  } finally {
    await scenario?.cleanup();
    rmSync(eventsDir, { recursive: true, force: true });
  }
}

function scaleTable(rows: Row[]): string {
  const head = ["replicas", "surge", "deploy s", "rollout s", "s per replica", "failed", "twice", "lost", "preview after", "load avg (1 min) before → after"];
  const body = rows.map((r) => {
    const x = r.scale!;
    const f = r.figures!;
    return [String(x.replicas), String(x.surge), f.deployS.toFixed(1), x.rolloutS.toFixed(1), x.perReplicaS.toFixed(2), String(f.failed), String(f.rows.rowsTwice), String(f.rows.lost),
      f.perpetualDiff ? "CHANGES" : "empty", `${x.loadBefore.toFixed(2)} → ${x.loadAfter.toFixed(2)}`];
  });
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(width[i]!)).join("  ")).join("\n");
}

/**
 * Blue-green and canary on one production-shaped stack, same load: blue-green promote (one switch), a rollback
 * inside the window (a switch back, beside the rolling "roll back from history" row of the same run), canary promote
 * (gates passed), and a canary of an image failing half its requests (how many requests users saw fail).
 */
async function strategySteps(rows: Row[], refs: ImageRefs, load: LoadShape): Promise<void> {
  const name = `bs${randomBytes(3).toString("hex")}`;
  let output = "";
  let scenario: Scenario | undefined;
  const record = async (strategy: Row["strategy"], step: string, deploy: (s: Scenario) => Promise<unknown>, note: (f: StepFigures, sw: ReturnType<typeof switches>, out: string) => string) => {
    if (!scenario) return rows.push({ system: "slipway", edge: "http", strategy, step, failure: "the stack did not come up" });
    console.log(`\n== slipway ${strategy}: ${step}`);
    output = "";
    const timeline = versionTimeline(scenario.url);
    try {
      const f = await scenario.measure(step, load, () => deploy(scenario!));
      const sw = switches(await timeline.stop());
      const n = note(f, sw, output);
      console.log(`${describeStep(f)}; ${n}`);
      rows.push({ system: "slipway", edge: "http", strategy, step, figures: f, note: n });
    } catch (e) {
      await timeline.stop();
      const failure = (e as Error).message.slice(0, 2000);
      console.log(`FAILED: ${reason(failure)}`);
      rows.push({ system: "slipway", edge: "http", strategy, step, failure });
    }
    return undefined;
  };
  const switched = (out: string) => [...new Set([...out.matchAll(/switched: .*? \((\d+\.\d)s\)/g)].map((m) => m[0]))].map((l) => `${/\((\d+\.\d)s\)/.exec(l)![1]} s`).join(", ") || "none";
  const versions = (sw: ReturnType<typeof switches>) => `versions ${sw.order.join(" → ")}, flips back ${sw.flips}`;
  try {
    console.log(`\nbringing up a production-shaped stack ${name} for blue-green and canary with pulumi up …`);
    scenario = await startScenario(name, refs, (o) => { output += o; }).catch((e: Error) => {
      rows.push({ system: "slipway", edge: "http", step: "initial up (strategies)", failure: e.message.slice(0, 2000) });
      return undefined;
    });
    const set = (s: Scenario, key: string, value: string) => s.ps.stack.setConfig(key, { value }, true);
    if (scenario) {
      await set(scenario, "slipway:api.rollout.strategy", "blue-green");
      await set(scenario, "slipway:api.rollout.blueGreen.keepOldMinutes", "10");
      await scenario.up("blue-green");
    }
    let good = refs.api;
    await record("blue-green", "promote a new image", async (s) => {
      good = s.apiImage("bg2");
      await set(s, "slipway:images.api", good);
      await s.up(`promote ${good}`);
    }, (_f, sw, out) => `${versions(sw)}; switch ${switched(out)}`);
    await record("blue-green", "roll back inside the window (switch back)", async (s) => {
      const { to } = rollbackTarget(s.ps.stackName, await history(s.ps.stack), {});
      await set(s, "slipway:images.api", to.images.api);
      good = to.images.api;
      await s.up(`rollback to ${to.images.api}`);
    }, (_f, sw, out) => `${versions(sw)}; switch ${switched(out)}; containers started: ${new Set(out.match(/replica \S+ \(\S+\): started/g) ?? []).size}`);
    if (scenario) {
      await set(scenario, "slipway:api.rollout.strategy", "canary");
      await scenario.ps.stack.removeConfig("slipway:api.rollout.blueGreen", true);
      await set(scenario, "slipway:api.rollout.canary.steps[0]", "10");
      await set(scenario, "slipway:api.rollout.canary.steps[1]", "50");
      await set(scenario, "slipway:api.rollout.canary.stepSeconds", "20");
      await scenario.up("canary");
    }
    // (pulumi prints each rollout line twice: as it happens and in the summary)
  const gates = (out: string) => [...new Set(out.match(/canary gate (passed|failed) at \d+ %: canary \d+ requests, \d+ × 5xx \([\d.]+ %\)/g) ?? [])].join("; ") || "no gate line";
    await record("canary", "promote a new image (10 → 50 %, 20 s each)", async (s) => {
      good = s.apiImage("cn2");
      await set(s, "slipway:images.api", good);
      await s.up(`promote ${good}`);
    }, (_f, sw, out) => `${versions(sw)}; ${gates(out)}`);
    await record("canary", "promote an image failing 50 % of its requests (restored)", async (s) => {
      const faulty = deriveApiImage({ from: refs.api, ref: `${refs.api}-${name}-faulty`, version: "faulty", preload: FAULT_HALF_OF_REQUESTS });
      await set(s, "slipway:images.api", faulty);
      const failed = await s.up(`promote ${faulty}`).then(() => "", (e: Error) => e.message);
      await set(s, "slipway:images.api", good);
      if (!failed) throw new Error("the faulty image passed its canary gates");
    }, (f, _sw, out) => `${gates(out)}; users saw ${f.failed} failed of ${f.requests}`);
  } finally {
    await scenario?.cleanup();
  }
}

/** The operator's deploy steps, each under load, on one production-shaped stack (over HTTPS with `options.tls`). */
async function deploySteps(rows: Row[], edge: Row["edge"], refs: ImageRefs, load: LoadShape, options: ScenarioOptions = {}): Promise<void> {
  const name = `bd${randomBytes(3).toString("hex")}`;
  const label = edge === "https" ? "slipway over HTTPS" : "slipway";
  let scenario: Scenario | undefined;
  const brokenRef = `${refs.api}-${name}-broken`;
  const record = async (step: string, deploy: (s: Scenario) => Promise<unknown>) => {
    if (!scenario) return rows.push({ system: "slipway", edge, step, failure: "the stack did not come up" });
    console.log(`\n== ${label}: ${step}`);
    try {
      const f = await scenario.measure(step, load, () => deploy(scenario!));
      console.log(describeStep(f));
      rows.push({ system: "slipway", edge, strategy: "rolling", step, figures: f });
    } catch (e) {
      const failure = (e as Error).message.slice(0, 2000);
      console.log(`FAILED: ${reason(failure)}`);
      rows.push({ system: "slipway", edge, step, failure });
    }
    return undefined;
  };

  try {
    console.log(`\nbringing up a production-shaped stack ${name}${edge === "https" ? " with TLS at the edge" : ""} with pulumi up …`);
    scenario = await startScenario(name, refs, () => undefined, options).catch((e: Error) => {
      console.log(`FAILED: the initial up: ${reason(e.message)}`);
      rows.push({ system: "slipway", edge, step: "initial up", failure: e.message.slice(0, 2000) });
      return undefined;
    });
    const up = (s: Scenario, msg: string) => s.up(msg);
    const set = (s: Scenario, key: string, value: string) => s.ps.stack.setConfig(key, { value }, true);
    let good = refs.api;
    await record("promote a new image", async (s) => {
      good = s.apiImage("v2");
      await set(s, "slipway:images.api", good);
      await up(s, `promote ${good}`);
    });
    await record("change an API env value", async (s) => {
      await set(s, "slipway:api.env.LOG_LEVEL", "debug");
      await up(s, "env change");
    });
    await record("change an edge setting (reload)", async (s) => {
      await set(s, "slipway:edge.slots", "12");
      await up(s, "edge slots 12");
    });
    await record("change the edge image (handover)", async (s) => {
      await set(s, "slipway:images.edge", s.edgeImage("b"));
      await up(s, "edge image");
    });
    await record("promote a broken image (restored)", async (s) => {
      const broken = deriveApiImage({ from: refs.api, ref: brokenRef, version: "broken", cmd: ["node", "-e", "setTimeout(() => process.exit(3), 2000)"] });
      await set(s, "slipway:images.api", broken);
      // Expected to fail: the old set keeps serving. Then the config goes back to what runs.
      const failed = await up(s, `promote ${broken}`).then(() => "", (e: Error) => e.message);
      await set(s, "slipway:images.api", good);
      if (!failed) throw new Error("the broken image was deployed");
    });
    await record("roll back from history", async (s) => {
      const { to } = rollbackTarget(s.ps.stackName, await history(s.ps.stack), { to: 1 });
      await set(s, "slipway:images.api", to.images.api);
      await up(s, `rollback to ${to.images.api}`);
    });
    await record("restart the database", (s) => restartDatabase(s));
  } finally {
    await scenario?.cleanup();
    await connectDocker().getImage(brokenRef).remove({ force: true }).catch(() => undefined);
  }
}

function table(rows: Row[]): string {
  const head = ["system", "edge", "strategy", "step", "requests", "failed", "non-2xx", "errors", "2xx POSTs", "rows", "twice", "lost", "p50 ms", "p99 ms", "deploy s", "preview after"];
  const body = rows.map((r) => {
    if (r.failure) return [r.system, r.edge, r.strategy ?? "", r.step, `FAILED: ${reason(r.failure).slice(0, 160)}`, "", "", "", "", "", "", "", "", "", "", ""];
    if (r.figures) {
      const f = r.figures;
      return [r.system, r.edge, r.strategy ?? "", r.step + (f.error ? " (up failed)" : ""), String(f.requests), String(f.failed), JSON.stringify(f.non2xx), JSON.stringify(f.errors),
        String(f.rows.postsOk), String(f.rows.rows), String(f.rows.rowsTwice), String(f.rows.lost), String(f.p50Ms), String(f.p99Ms), f.deployS.toFixed(1), f.perpetualDiff ? "CHANGES" : "empty"];
    }
    const w = r.swarm!;
    return [r.system, r.edge, "start-first", r.step, String(w.requests), String(w.failed), JSON.stringify(w.non2xx), JSON.stringify(w.errors),
      String(w.rows?.postsOk ?? "?"), String(w.rows?.rows ?? "?"), String(w.rows?.rowsTwice ?? "?"), String(w.rows?.lost ?? "?"), String(w.p50Ms), String(w.p99Ms), w.rolloutS.toFixed(1), "n/a"];
  });
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const notes = rows.filter((r) => r.note).map((r) => `  ${r.strategy}: ${r.step}: ${r.note}`);
  return [[head, ...body].map((cols) => cols.map((c, i) => c.padEnd(width[i])).join("  ")).join("\n"), ...(notes.length ? ["", "Notes:", ...notes] : [])].join("\n");
}

main().catch((e: Error) => {
  console.error(`bench:deploy failed: ${e.message}${process.env.SLIPWAY_DEBUG ? `\n${e.stack}` : " (SLIPWAY_DEBUG=1 for the stack)"}`);
  process.exit(1);
});
