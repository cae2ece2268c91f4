// End-to-end: the development tier as a developer runs it (`npm run dev` = src/dev/main.ts), with a
// temporary .env, unique names and port, and a temporary copy of src/api (the repository's files are
// never edited): /health with the database ok, an edit of the copy served after the reload, Ctrl-C
// (SIGINT to the process group, as a terminal sends it) stops and removes everything but the volume.
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ensureImages } from "../support/docker-images";

const root = path.join(__dirname, "..", "..");
const suffix = randomBytes(4).toString("hex");
const project = `slipway-e2e-dev-${suffix}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), "slipway-e2e-dev-"));
const src = path.join(tmp, "api");
let port = 0;
let dev: ChildProcess | undefined;
const spawned: ChildProcess[] = [];
let output = "";
const external = `${project}-ext`; // the "existing server" of the second test

function docker(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile("docker", args, { timeout: 60_000 }, (error, stdout) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout: stdout.trim() }));
  });
}

async function http(url: string, ms = 5000): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`${url}: no answer within ${ms} ms`)), ms);
  try {
    return await fetch(url, { signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dev?.exitCode !== null && dev?.exitCode !== undefined) throw new Error(`npm run dev exited (${dev.exitCode}) while waiting for ${what}:\n${output.slice(-4000)}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${output.slice(-4000)}`);
    await sleep(500);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function health(p = port): Promise<{ status: string; checks: { db: string }; reloaded?: string } | undefined> {
  const r = await http(`http://127.0.0.1:${p}/health`);
  return r.status === 200 ? ((await r.json()) as { status: string; checks: { db: string }; reloaded?: string }) : undefined;
}

before(async () => {
  const images = await ensureImages(); // the local base images (node, postgres) the dev tier builds and runs on
  port = await freePort();
  cpSync(path.join(root, "src", "api"), src, { recursive: true });
  writeFileSync(path.join(tmp, ".env"), [
    "# written by test/e2e/dev-tier.test.ts",
    `SLIPWAY_DEV_PROJECT=${project}`,
    `SLIPWAY_DEV_PORT=${port}`,
    `SLIPWAY_DEV_API_SRC=${src}`,
    `SLIPWAY_DEV_NODE_IMAGE=${images.node}`,
    `SLIPWAY_DEV_POSTGRES_IMAGE=${images.postgres}`,
    "SLIPWAY_DEV_POSTGRES_PASSWORD=e2e dev secret",
    "",
  ].join("\n"));
});

after(async () => {
  for (const child of spawned) {
    if (child.exitCode !== null) continue;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const p of [project, `${project}x`]) {
    await docker(["rm", "-f", "-v", `${p}-api`, `${p}-db`]);
    await docker(["network", "rm", p]);
    await docker(["volume", "rm", "-f", `${p}-pgdata`]);
  }
  await docker(["rm", "-f", "-v", external]);
  rmSync(tmp, { recursive: true, force: true });
});

test("npm run dev: API + PostgreSQL from .env, reload on edit, Ctrl-C leaves only the volume", { timeout: 15 * 60_000 }, async () => {
  // A bad .env is refused before anything starts, naming the variable.
  const bad = path.join(tmp, "bad.env");
  writeFileSync(bad, "SLIPWAY_DEV_PROT=1\n");
  const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/dev/main.ts", "--env", bad], { cwd: root }, (error, _out, stderr) =>
      resolve({ code: error ? (error.code as number) : 0, stderr }));
  });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /SLIPWAY_DEV_PROT: unknown key — did you mean SLIPWAY_DEV_PORT\?/);

  // What `npm run dev` runs, in its own process group so that a "Ctrl-C" reaches the whole group.
  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.dev, "node --import tsx src/dev/main.ts");
  dev = spawn(process.execPath, ["--import", "tsx", "src/dev/main.ts", "--env", path.join(tmp, ".env")],
    { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  spawned.push(dev);
  dev.stdout!.on("data", (d: Buffer) => (output += d));
  dev.stderr!.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => dev!.on("exit", (code) => resolve(code)));

  // The dev image build (npm ci) can take minutes on a cold cache.
  const first = await until("/health 200 with db ok", 10 * 60_000, async () => {
    const h = await health();
    return h?.checks.db === "ok" ? h : undefined;
  });
  assert.equal(first.status, "ok");
  assert.equal(first.reloaded, undefined);
  assert.match(output, /migrations complete/);

  // Source mounted read-only, API running as node from the dev image.
  const mounts = await docker(["inspect", "-f", "{{range .Mounts}}{{.Destination}} {{.RW}}{{end}}", `${project}-api`]);
  assert.equal(mounts.stdout, "/app/src/api false");
  assert.equal((await docker(["inspect", "-f", "{{.Config.Image}}", `${project}-api`])).stdout, "slipway/api:dev");

  // Edit the copy: the change is served after tsx watch restarts the server.
  const marker = `edit-${suffix}`;
  const file = path.join(src, "health.ts");
  const before = readFileSync(file, "utf8");
  const needle = 'body: { status: "ok", version, checks: summary }';
  assert.ok(before.includes(needle), "src/api/health.ts changed shape: update this test's edit");
  writeFileSync(file, before.replace(needle, `body: { status: "ok", version, checks: summary, reloaded: "${marker}" }`));
  const reloaded = await until("the edit served", 120_000, async () => {
    const h = await health();
    return h?.reloaded === marker ? h : undefined;
  });
  assert.equal(reloaded.checks.db, "ok");

  // Ctrl-C: SIGINT to the process group; the command exits 0 and removes containers and network.
  process.kill(-dev.pid!, "SIGINT");
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 60_000)))]);
  clearTimeout(timer);
  assert.equal(code, 0, `npm run dev exit: ${code}\n${output.slice(-3000)}`);
  assert.equal((await docker(["ps", "-a", "-q", "--filter", `label=slipway.dev=${project}`])).stdout, "");
  assert.equal((await docker(["ps", "-a", "-q", "--filter", `name=${project}`])).stdout, "");
  assert.notEqual((await docker(["network", "inspect", project])).code, 0, "the dev network is left");
  assert.equal((await docker(["volume", "inspect", "-f", "{{.Name}}", `${project}-pgdata`])).stdout, `${project}-pgdata`);
  assert.match(output, new RegExp(`volume ${project}-pgdata stays`));
  assert.equal((await docker(["volume", "rm", `${project}-pgdata`])).code, 0);
});

test("npm run dev with an existing server (SLIPWAY_DEV_DATABASE_URL): no database container, no volume", { timeout: 10 * 60_000 }, async () => {
  const images = await ensureImages();
  dev = undefined;
  // The developer's own server, published on the host: the API container reaches it as host.docker.internal.
  assert.equal((await docker(["run", "-d", "--name", external, "-p", "5432", "-e", "POSTGRES_PASSWORD=ext-secret",
    "-e", "POSTGRES_DB=mine", images.postgres])).code, 0);
  const hostPort = (await docker(["port", external, "5432/tcp"])).stdout.split("\n")[0].split(":").pop();
  await until("external postgres ready", 60_000, async () =>
    (await docker(["exec", external, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"])).code === 0 ? true : undefined);

  const devPort = await freePort();
  const envFile = path.join(tmp, "external.env");
  writeFileSync(envFile, [
    `SLIPWAY_DEV_PROJECT=${project}x`,
    `SLIPWAY_DEV_PORT=${devPort}`,
    `SLIPWAY_DEV_API_SRC=${src}`,
    `SLIPWAY_DEV_NODE_IMAGE=${images.node}`,
    `SLIPWAY_DEV_DATABASE_URL=postgres://postgres:ext-secret@host.docker.internal:${hostPort}/mine`,
    "",
  ].join("\n"));
  output = "";
  dev = spawn(process.execPath, ["--import", "tsx", "src/dev/main.ts", "--env", envFile],
    { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  spawned.push(dev);
  dev.stdout!.on("data", (d: Buffer) => (output += d));
  dev.stderr!.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => dev!.on("exit", (code) => resolve(code)));

  await until("/health 200 with db ok", 5 * 60_000, async () => ((await health(devPort))?.checks.db === "ok" ? true : undefined));
  assert.equal((await docker(["ps", "-a", "-q", "--filter", `name=${project}x-db`])).stdout, "", "a database container was started");
  const applied = await docker(["exec", external, "psql", "-U", "postgres", "-d", "mine", "-tAc", "select count(*) from pgmigrations"]);
  assert.equal(applied.stdout, "1", "migrations applied to the existing server");

  process.kill(-dev.pid!, "SIGINT");
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 60_000)))]);
  clearTimeout(timer);
  assert.equal(code, 0, `npm run dev exit: ${code}\n${output.slice(-3000)}`);
  assert.equal((await docker(["ps", "-a", "-q", "--filter", `label=slipway.dev=${project}x`])).stdout, "");
  assert.notEqual((await docker(["network", "inspect", `${project}x`])).code, 0, "the dev network is left");
  assert.notEqual((await docker(["volume", "inspect", `${project}x-pgdata`])).code, 0, "a volume was created");
});
