// Benchmark of the slim, locked-down API image against the one before it, same run, same engine: image size,
// node_modules size, and start to healthy — from `docker run` to the first 200 of GET /health on the published port
// (polled every 20 ms; the image's HEALTHCHECK runs every 5 s, too coarse to time a start). "before" is the image of
// BEFORE_COMMIT (the last commit whose production stage installed the whole repository's dependencies), built from
// that commit's tree; "after" is this working copy's production image (docker-bake.hcl's prod, TEST_ROUTES=false),
// run as slipway runs replicas (read-only root, /tmp tmpfs, no capabilities, no-new-privileges). Runs alternate
// before/after so a busy neighbour weighs on both; the load average is printed at start and end. Figures, no verdicts.
// JSON to bench/results/image-<time>.json.
//   npm run bench:image [-- --runs 7]
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { buildProductionApi, testImages } from "../test/support/docker-images";

/** The parent of 8ede1e1 ("slim API image"): its production stage ran `npm ci --omit=dev` on the root manifest. */
const BEFORE_COMMIT = "bafbc80";
const LOCKED_DOWN_FLAGS = ["--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=64m", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"];

function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("docker", args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker ${args.slice(0, 3).join(" ")}…: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim());
    });
  });
}

/** `git archive BEFORE_COMMIT | docker build -f images/api/Dockerfile -` with the legacy builder, as tools/images.sh builds. */
function buildBefore(nodeImage: string, ref: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const git = spawn("git", ["archive", "--format=tar", BEFORE_COMMIT], { cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "inherit"] });
    const build = spawn("docker", ["build", "--network", "host", "-f", "images/api/Dockerfile", "--build-arg", `NODE_IMAGE=${nodeImage}`, "-t", ref, "-"], {
      stdio: ["pipe", "ignore", "pipe"],
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
    });
    let err = "";
    build.stderr.on("data", (b: Buffer) => (err += b.toString()));
    git.stdout.pipe(build.stdin);
    build.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`build of ${BEFORE_COMMIT}: exit ${code}\n${err.slice(-2000)}`))));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One GET with a ref'd deadline: a connection docker-proxy accepted for a container not listening yet can stay pending
 * with nothing keeping the event loop alive (AbortSignal.timeout's timer does not), and node would exit mid-run.
 */
async function healthOk(url: string): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 1000);
  try {
    return (await fetch(url, { signal: controller.signal })).status === 200;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** ms from `docker run` to the first 200 of /health. */
async function startToHealthy(image: string, flags: string[], network: string, databaseUrl: string): Promise<number> {
  const name = `slipway-bench-img-${randomBytes(4).toString("hex")}`;
  const t0 = performance.now();
  try {
    await docker(["run", "-d", "--name", name, "--network", network, "-p", "127.0.0.1::3000", "-e", `DATABASE_URL=${databaseUrl}`, ...flags, image]);
    const port = (await docker(["port", name, "3000/tcp"])).split("\n")[0]!.split(":").pop();
    for (;;) {
      const ok = await healthOk(`http://127.0.0.1:${port}/health`);
      if (ok) return Math.round(performance.now() - t0);
      if (performance.now() - t0 > 60_000) throw new Error(`${image}: not healthy within 60 s`);
      await sleep(20);
    }
  } finally {
    await docker(["rm", "-f", name]).catch(() => undefined);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "7" } } });
  const runs = Number(values.runs);
  const loadAtStart = load();
  console.log(`load average at start: ${loadAtStart} (1, 5, 15 min; ${(await docker(["info", "-f", "{{.NCPU}}"]))} CPUs)`);
  const images = await testImages();
  const id = randomBytes(3).toString("hex");
  const before = `slipway-bench/api:before-${id}`;
  await buildBefore(images.node, before);
  const afterTags = await buildProductionApi({ nodeImage: images.node, repo: "slipway-bench/api-after", tag: id });
  const after = afterTags[0]!;
  const network = `slipway-bench-img-${id}`;
  const pg = `slipway-bench-img-pg-${id}`;
  const databaseUrl = `postgres://postgres:bench@${pg}:5432/app`;
  await docker(["network", "create", network]);
  try {
    await docker(["run", "-d", "--name", pg, "--network", network, "-e", "POSTGRES_PASSWORD=bench", "-e", "POSTGRES_DB=app", images.postgres]);
    for (let i = 0; ; i++) {
      if ((await docker(["exec", pg, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"]).then(() => true, () => false))) break;
      if (i > 300) throw new Error("postgres not ready");
      await sleep(200);
    }
    const variants = [
      { name: "before", image: before, flags: [] as string[] },
      { name: "after", image: after, flags: LOCKED_DOWN_FLAGS },
    ];
    const times: Record<string, number[]> = { before: [], after: [] };
    // One warm-up start each (page cache, first connection to PostgreSQL), not counted.
    for (const v of variants) await startToHealthy(v.image, v.flags, network, databaseUrl);
    for (let r = 0; r < runs; r++) for (const v of variants) times[v.name]!.push(await startToHealthy(v.image, v.flags, network, databaseUrl));
    const rows = [];
    for (const v of variants) {
      const sizeMb = Math.round(Number(await docker(["image", "inspect", "-f", "{{.Size}}", v.image])) / 1e6);
      const nodeModulesMb = Number((await docker(["run", "--rm", "--entrypoint", "du", v.image, "-sm", "/app/node_modules"])).split(/\s/)[0]);
      const pulumi = (await docker(["run", "--rm", "--entrypoint", "sh", v.image, "-c", "ls -d node_modules/@pulumi 2>/dev/null || true"])) !== "";
      const t = times[v.name]!;
      const row = { variant: v.name, image: v.image, sizeMb, nodeModulesMb, pulumiPackages: pulumi, startToHealthyMs: { median: median(t), min: Math.min(...t), max: Math.max(...t), runs: t } };
      rows.push(row);
      console.log(`${v.name}: image ${sizeMb} MB, node_modules ${nodeModulesMb} MB, @pulumi ${pulumi ? "present" : "absent"}; start to healthy median ${row.startToHealthyMs.median} ms (min ${row.startToHealthyMs.min}, max ${row.startToHealthyMs.max}, ${t.length} runs)`);
    }
    const loadAtEnd = load();
    console.log(`load average at end: ${loadAtEnd}`);
    const out = path.join(__dirname, "results");
    await mkdir(out, { recursive: true });
    const file = path.join(out, `image-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    await writeFile(file, JSON.stringify({ beforeCommit: BEFORE_COMMIT, loadAtStart, loadAtEnd, runs, results: rows }, null, 2));
    console.log(`results: ${file}`);
  } finally {
    await docker(["rm", "-f", "-v", pg]).catch(() => undefined);
    await docker(["network", "rm", network]).catch(() => undefined);
    for (const ref of [before, ...afterTags]) await docker(["image", "rm", ref]).catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
