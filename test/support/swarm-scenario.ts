// A production-shaped stack with `slipway:target: swarm` on the three-node lab (tools/swarm-lab.sh), and what the e2e
// test (test/e2e/swarm-deploy.test.ts) and the benchmark (bench:deploy --target swarm) do with it: `pulumi up`, a step
// measured under load through an edge node (POSTs writing rows, slow GETs; rows counted in PostgreSQL on the database
// node), the serving release's tasks, a node made to hold one of them again, derived API images loaded into every node
// (the lab has no registry). The lab is taken exclusively (drains and kills).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execText } from "../../src/docker";
import { type ImageRefs, testImages } from "./docker-images";
import { deriveApiImage } from "./derived-images";
import { HEALTHCHECK_TIMEOUT_MS } from "./edge";
import { freePort, type ProjectStack, projectStack } from "./project-stack";
import { pulumiCli } from "./pulumi";
import { swarmLab, waitFor, type SwarmLab } from "./swarm-lab";
import { describeStep, measureUnderLoad, previewComplaint, type StepFigures } from "./deploy-scenario";

export interface SwarmScenarioOptions {
  /** API replicas (default 3: one per node). */
  replicas?: number;
  /** keep-alive connections of a measured step's load (default 30) */
  connections?: number;
  /** how many connections each API replica's pool may hold (api.env.PGPOOL_MAX; default: the API's) */
  poolMax?: number;
  /** default production */
  environment?: "production" | "staging";
  log?: (s: string) => void;
}

export interface SwarmScenario {
  lab: SwarmLab;
  images: ImageRefs;
  ps: ProjectStack;
  /** the edge's published port on every edge node */
  port: number;
  /** backup.dir: where the pre-deploy backup (and `npm run backup -- --stack`) files the dumps, on this machine */
  backupDir: string;
  connections: number;
  /**
   * The edge's `timeout server` (edge.timeouts.serverMs, 15 s here; the slowest request of the load takes 3 s): how long
   * a request in flight on a task of a killed node can hang before the edge answers it.
   */
  serverTimeoutMs: number;
  edgeUrl(i: number): string;
  get(url: string): Promise<{ status: number; body: string }>;
  /** psql as the superuser inside the database's task (on whichever node runs it), its output trimmed */
  sql(query: string): Promise<string>;
  /** `pulumi up`; its output (throws unless it succeeded) */
  up(message: string): Promise<string>;
  /** "" when `pulumi preview --expect-no-changes` passes, else what it would change */
  previewComplaint(): Promise<string>;
  /** `deploy` under load through edge node `via` (default 0; `url`: another address of it, e.g. HTTPS), measured; a thrown error is in the figures */
  measure(step: string, deploy: () => Promise<unknown>, via?: number, url?: string): Promise<StepFigures>;
  /** the serving release's running tasks, as "node state" lines */
  servingTasks(): Promise<{ service: string; rows: string[] }>;
  /** the serving release has a task on `node` (Swarm restarts its tasks to spread them again, outside any load) */
  ensureTaskOn(node: string): Promise<void>;
  /** a new API image derived from the test image, loaded into every node */
  apiImage(version: string, extra?: { cmd?: string[]; preload?: string }): Promise<string>;
  /** the ref apiImage(version) made */
  apiImageRef(version: string): string;
  /** Sets images.api of the stack file (the edge's and the database's as they are). */
  setApiImage(ref: string): Promise<void>;
  /** The edge image under another name (the same content), loaded on every node. */
  edgeImage(tag: string): Promise<string>;
  /** Sets images.edge of the stack file (the API's and the database's as they are). */
  setEdgeImage(ref: string): Promise<void>;
  /**
   * The stack destroyed (unprotected first), its volumes and derived images removed, the lab released: what the destroy
   * left of the stack in the swarm (services, configs, secrets; removed after).
   */
  cleanup(): Promise<string[]>;
}

const SERVER_TIMEOUT_MS = 15_000;

export async function startSwarmScenario(name: string, options: SwarmScenarioOptions = {}): Promise<SwarmScenario> {
  const log = options.log ?? ((s: string) => process.stderr.write(s));
  const connections = options.connections ?? 30;
  const replicas = options.replicas ?? 3;
  const id = randomBytes(3).toString("hex");
  const images = await testImages();
  const started = Date.now();
  const lab = await swarmLab({ exclusive: true, images: [images.api, images.edge, images.postgres] });
  console.log(`swarm lab ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const port = await freePort();
  const built: string[] = [];
  const backupDir = mkdtempSync(join(tmpdir(), `slipway-${name}-backups-`));
  let ps: ProjectStack;
  try {
    ps = await projectStack(`${name}-${id}`, {
      environment: options.environment ?? "production",
      target: "swarm",
      dockerHost: lab.dockerHost,
      images: { api: images.api, edge: images.edge, postgres: images.postgres },
      api: {
        replicas,
        limits: { memoryMb: 256, cpus: 0.5 },
        env: { LOG_LEVEL: "info", SHUTDOWN_DELAY_MS: "1000", ...(options.poolMax ? { PGPOOL_MAX: String(options.poolMax) } : {}) },
        healthcheck: { path: "/up", intervalMs: 1000, timeoutMs: HEALTHCHECK_TIMEOUT_MS, retries: 5, startPeriodMs: 10000 },
        rollout: { healthTimeoutMs: 300_000, edgeUpTimeoutMs: 120_000, drainTimeoutMs: 60_000, stopGraceSeconds: 10 },
      },
      edge: { port, limits: { memoryMb: 128, cpus: 0.5 }, slots: Math.max(10, 2 * replicas + 1), timeouts: { serverMs: SERVER_TIMEOUT_MS }, publicUrl: `http://${lab.edgeNodes[0]!.address}:${port}` },
      database: { name: "app", user: "app", limits: { memoryMb: 512, cpus: 1 } },
      // As production on one host: a verified backup before each release's migrations (through the manager).
      backup: { enabled: true, dir: backupDir, keep: 3 },
      swarm: { encrypted: false, taskTimeoutMs: 600_000 },
    });
  } catch (e) {
    rmSync(backupDir, { recursive: true, force: true });
    lab.release();
    throw e;
  }

  const edgeUrl = (i: number) => `http://${lab.edgeNodes[i]!.address}:${port}`;
  const get = async (url: string) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  };
  const sql = async (query: string) => {
    // The node the database task runs on (the labelled node; another once a test moved the label).
    let running: string | undefined;
    for (const m of lab.nodes) {
      // through the first manager that answers (a test may have killed one)
      running = await lab.cli(["service", "ps", `${ps.prefix}-db`, "--filter", "desired-state=running", "--format", "{{.Node}}"], m.index).then((o) => o.trim().split("\n")[0], () => undefined);
      if (running !== undefined) break;
    }
    const node = lab.nodes.find((n) => n.name === running) ?? lab.databaseNode;
    const docker = lab.docker(node.index);
    const [c] = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${ps.prefix}-db`] } });
    if (!c) throw new Error(`no ${ps.prefix}-db container on ${node.name}`);
    return (await execText(docker, c.Id, ["psql", "-U", "app", "-d", "app", "-Atc", query], undefined, 30_000)).trim();
  };
  const up = async (message: string) => {
    const result = await ps.stack.up({ message, onOutput: log, color: "never" });
    if (result.summary.result !== "succeeded") throw new Error(`pulumi up: ${result.summary.result}`);
    return result.stdout;
  };
  const measure = async (step: string, deploy: () => Promise<unknown>, via = 0, url = edgeUrl(via)): Promise<StepFigures> => {
    const figures = await measureUnderLoad({
      step, deploy, sql, stack: ps.stack, settleS: 5,
      load: { url, allowHost: lab.edgeNodes[via]!.address, connections, maxSeconds: 1200, mix: "items", postShare: 0.5, slowShare: 0.1, slowMs: 3000, fastMs: 300 },
    });
    console.log(describeStep(figures));
    return figures;
  };
  const servingTasks = async () => {
    const service = ((await ps.stack.outputs()).apiContainers!.value as string[])[0]!;
    const rows = (await lab.cli(["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"])).trim().split("\n").filter(Boolean);
    return { service, rows };
  };
  const ensureTaskOn = async (node: string) => {
    const { service, rows } = await servingTasks();
    if (rows.some((r) => r.startsWith(`${node} `))) return;
    await lab.cli(["service", "update", "--force", "--detach=false", "--quiet", service]);
    await waitFor(`a task of ${service} running on ${node}`, 300_000, async () => ((await servingTasks()).rows.some((r) => r.startsWith(`${node} `) && / Running /.test(` ${r} `)) ? true : undefined));
    // The edge's health checks take the restarted tasks in.
    for (let i = 0; i < lab.edgeNodes.length; i++) await waitFor(`GET /health through ${lab.edgeNodes[i]!.name}`, 120_000, async () => ((await get(`${edgeUrl(i)}/health`)).status === 200 ? true : undefined));
    await new Promise((r) => setTimeout(r, 5000));
  };
  const apiImageRef = (version: string) => `${images.api}-swarm-${id}-${version}`;
  const apiImage = async (version: string, extra: { cmd?: string[]; preload?: string } = {}) => {
    const ref = apiImageRef(version);
    deriveApiImage({ from: images.api, ref, version, ...extra });
    built.push(ref);
    await lab.loadImages([ref]);
    return ref;
  };
  type StackImages = { api: string; edge: string; postgres: string };
  const setImages = async (change: Partial<StackImages>) => {
    const now = JSON.parse((await ps.stack.getConfig("slipway:images")).value) as StackImages;
    await ps.stack.setConfig("slipway:images", { value: JSON.stringify({ ...now, ...change }) });
  };
  const setApiImage = (api: string) => setImages({ api });
  const edgeImage = async (tag: string) => {
    const ref = `${images.edge}-swarm-${id}-${tag}`;
    execFileSync("docker", ["tag", images.edge, ref]);
    built.push(ref);
    await lab.loadImages([ref]);
    return ref;
  };
  const setEdgeImage = (edge: string) => setImages({ edge });
  const cleanup = async () => {
    await lab.cli(["node", "update", "--availability", "active", lab.nodes[2]!.name]).catch(() => undefined);
    await pulumiCli(ps, ["state", "unprotect", "--all", "--yes"]).catch((e: Error) => log(`unprotect: ${e.message}\n`));
    await ps.stack.destroy({ color: "never" }).catch((e: Error) => log(`destroy: ${e.message.slice(-2000)}\n`));
    const left: string[] = [];
    for (const kind of ["service", "config", "secret"]) {
      const names = (await lab.cli([kind, "ls", "--filter", `label=slipway.stack=${ps.prefix}`, "--format", "{{.Name}}"]).catch(() => "")).trim().split("\n").filter(Boolean);
      left.push(...names.map((n) => `${kind} ${n}`));
      if (names.length > 0) await lab.cli([kind, "rm", ...names]).catch((e: Error) => log(`${kind} rm: ${e.message}\n`));
    }
    // The database's volumes stay on its node after its service is gone (as they would in production); on every node:
    // a test may have moved the database.
    await waitFor("the database's volumes removed", 120_000, async () => {
      for (const node of lab.nodes) for (const v of ["pgdata", "pgsocket"]) await lab.cli(["volume", "rm", "-f", `${ps.prefix}-${v}`], node.index);
      return true;
    }).catch((e: Error) => log(`${e.message}\n`));
    await ps.cleanup();
    rmSync(backupDir, { recursive: true, force: true });
    for (const node of lab.nodes) await lab.cli(["image", "rm", "-f", ...built], node.index).catch(() => undefined);
    try {
      if (built.length > 0) execFileSync("docker", ["image", "rm", "-f", ...built], { stdio: "ignore" });
    } catch {
      // already gone
    }
    lab.release();
    return left;
  };
  return { lab, images, ps, port, backupDir, connections, serverTimeoutMs: SERVER_TIMEOUT_MS, edgeUrl, get, sql, up, previewComplaint: () => previewComplaint(ps.stack), measure, servingTasks, ensureTaskOn, apiImage, apiImageRef, setApiImage, edgeImage, setEdgeImage, cleanup };
}
