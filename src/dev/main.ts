// `npm run dev [-- --env PATH]`: the development tier. No Pulumi: builds the `dev` target of
// docker-bake.hcl, starts PostgreSQL in a container with a named volume (or uses SLIPWAY_DEV_DATABASE_URL),
// and runs the API from the dev image with src/api mounted read-only — the container applies the
// migrations, then `tsx watch` restarts the server on every change. Ctrl-C stops and removes the
// containers and the network; the database volume stays.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { dockerBuildArgs, loadBake } from "../../tools/bake";
import { DevEnvError, parseDotenv, validateDevEnv, type DevEnv } from "./env";

const ROOT = path.resolve(__dirname, "..", "..");

export interface DevNames {
  network: string;
  api: string;
  db: string;
  volume: string;
}

export function devNames(project: string): DevNames {
  return { network: project, api: `${project}-api`, db: `${project}-db`, volume: `${project}-pgdata` };
}

/** The URL the API container uses: the given server, or the dev database container on the dev network. */
export function databaseUrl(env: DevEnv, names: DevNames): string {
  if (env.SLIPWAY_DEV_DATABASE_URL) return env.SLIPWAY_DEV_DATABASE_URL;
  const password = encodeURIComponent(env.SLIPWAY_DEV_POSTGRES_PASSWORD);
  return `postgres://postgres:${password}@${names.db}:5432/${env.SLIPWAY_DEV_POSTGRES_DB}`;
}

const log = (msg: string): void => {
  process.stderr.write(`[dev] ${msg}\n`);
};

function run(args: string[], opts: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("docker", args, { stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      if (!opts.quiet) process.stderr.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d;
      if (!opts.quiet) process.stderr.write(d);
    });
    child.on("error", (error) => resolve({ code: 127, out: String(error) }));
    child.on("close", (code) => resolve({ code: code ?? 1, out: out.trim() }));
  });
}

async function must(args: string[], what: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(args, { quiet: true, ...opts });
  if (r.code !== 0) throw new Error(`${what} failed (docker ${args.join(" ")}):\n${r.out}`);
  return r.out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the `dev` target as docker-bake.hcl describes it; the legacy builder where buildx is missing. */
async function buildDevImage(env: DevEnv): Promise<string> {
  const target = loadBake(["dev"], { NODE_IMAGE: env.SLIPWAY_DEV_NODE_IMAGE }).target.dev;
  const buildx = (await run(["buildx", "version"], { quiet: true })).code === 0;
  log(`building ${target.tags[0]} (docker-bake.hcl target dev, base ${env.SLIPWAY_DEV_NODE_IMAGE})`);
  const started = Date.now();
  const r = await run(["build", "-q", "--network", "host", ...dockerBuildArgs(target, ROOT)], {
    quiet: true,
    env: buildx ? process.env : { ...process.env, DOCKER_BUILDKIT: "0" },
  });
  if (r.code !== 0) throw new Error(`building the dev image failed:\n${r.out.split("\n").slice(-30).join("\n")}`);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return target.tags[0];
}

async function waitForPostgres(db: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // -h 127.0.0.1: the init-time server listens on the socket only, so TCP readiness means the real one.
  while ((await run(["exec", db, "pg_isready", "-h", "127.0.0.1", "-U", "postgres"], { quiet: true })).code !== 0) {
    const state = await run(["inspect", "-f", "{{.State.Running}}", db], { quiet: true });
    if (state.out !== "true") throw new Error(`the dev database ${db} stopped:\n${(await run(["logs", "--tail", "30", db], { quiet: true })).out}`);
    if (Date.now() > deadline) throw new Error(`the dev database ${db} was not ready within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

export async function startDev(env: DevEnv): Promise<number> {
  const names = devNames(env.SLIPWAY_DEV_PROJECT);
  const src = path.resolve(ROOT, env.SLIPWAY_DEV_API_SRC);
  if (!existsSync(path.join(src, "server.ts"))) {
    throw new DevEnvError(`SLIPWAY_DEV_API_SRC: ${src} has no server.ts (it should name the API source, src/api)`);
  }
  const label = `slipway.dev=${env.SLIPWAY_DEV_PROJECT}`;
  let logs: ChildProcess | undefined;
  let stopping: Promise<number> | undefined;

  const stop = (code: number, why: string): Promise<number> => {
    stopping ??= (async () => {
      log(`${why}: stopping`);
      logs?.kill("SIGTERM");
      await run(["stop", "-t", "5", names.api], { quiet: true });
      await run(["rm", "-f", names.api, names.db], { quiet: true });
      await run(["network", "rm", names.network], { quiet: true });
      if (!env.SLIPWAY_DEV_DATABASE_URL) log(`stopped; the database volume ${names.volume} stays (docker volume rm ${names.volume} to drop it)`);
      else log("stopped");
      return code;
    })();
    return stopping;
  };
  let interrupted: ((code: number) => void) | undefined;
  const interruptedP = new Promise<number>((resolve) => (interrupted = resolve));
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => void stop(0, signal).then((code) => interrupted?.(code)));
  }

  try {
    const image = await buildDevImage(env);
    if (stopping) return stopping;
    // Leftovers of a dev run that was killed outright.
    await run(["rm", "-f", names.api, names.db], { quiet: true });
    const net = await run(["network", "create", "--label", label, names.network], { quiet: true });
    if (net.code !== 0 && !/already exists/.test(net.out)) throw new Error(`creating network ${names.network} failed: ${net.out}`);

    if (!env.SLIPWAY_DEV_DATABASE_URL) {
      log(`starting PostgreSQL ${names.db} (${env.SLIPWAY_DEV_POSTGRES_IMAGE}, volume ${names.volume})`);
      await must(["run", "-d", "--name", names.db, "--network", names.network, "--label", label,
        "-v", `${names.volume}:/var/lib/postgresql/data`,
        "-e", `POSTGRES_PASSWORD=${env.SLIPWAY_DEV_POSTGRES_PASSWORD}`, "-e", `POSTGRES_DB=${env.SLIPWAY_DEV_POSTGRES_DB}`,
        ...(env.SLIPWAY_DEV_POSTGRES_PORT ? ["-p", `127.0.0.1:${env.SLIPWAY_DEV_POSTGRES_PORT}:5432`] : []),
        env.SLIPWAY_DEV_POSTGRES_IMAGE], "starting the dev database");
      await waitForPostgres(names.db);
    }
    if (stopping) return stopping;

    log(`starting the API ${names.api}: ${src} mounted read-only, migrations, then tsx watch`);
    await must(["run", "-d", "--name", names.api, "--network", names.network, "--label", label,
      "-p", `127.0.0.1:${env.SLIPWAY_DEV_PORT}:3000`,
      "-v", `${src}:/app/src/api:ro`,
      "--add-host", "host.docker.internal:host-gateway",
      "-e", `DATABASE_URL=${databaseUrl(env, names)}`,
      image], "starting the API");
    log(`API on http://127.0.0.1:${env.SLIPWAY_DEV_PORT} (health: /health) — edit ${src.startsWith(ROOT + path.sep) ? path.relative(ROOT, src) : src} and it reloads; Ctrl-C stops`);

    logs = spawn("docker", ["logs", "-f", names.api], { stdio: ["ignore", "inherit", "inherit"] });
    const exited = new Promise<number>((resolve) => logs!.on("close", () => resolve(0)));
    const first = await Promise.race([exited.then(() => "exited" as const), interruptedP.then(() => "stopped" as const)]);
    if (first === "stopped" || stopping) return stopping!;
    const code = (await run(["inspect", "-f", "{{.State.ExitCode}}", names.api], { quiet: true })).out;
    return stop(1, `the API container exited (code ${code || "unknown"})`);
  } catch (error) {
    if (stopping) return stopping;
    log(error instanceof Error ? error.message : String(error));
    return stop(1, "start failed");
  }
}

// `--env`, not `--env-file`: Node 20 reads a `--env-file` option even after the script name.
function readEnv(argv: string[]): DevEnv {
  let file = path.join(ROOT, ".env");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--env" && argv[i + 1]) file = path.resolve(argv[++i]);
    else if (argv[i] === "-h" || argv[i] === "--help") {
      process.stdout.write("usage: npm run dev [-- --env PATH]   (default .env; see .env.example)\n");
      process.exit(0);
    } else throw new DevEnvError(`unknown argument ${argv[i]} (usage: npm run dev [-- --env PATH])`);
  }
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new DevEnvError(`${file} not found: cp .env.example .env (every setting has a default; edit what you need)`);
  }
  return validateDevEnv(parseDotenv(readFileSync(file, "utf8"), path.basename(file)), path.basename(file));
}

if (require.main === module) {
  let env: DevEnv;
  try {
    env = readEnv(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`[dev] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  startDev(env).then((code) => process.exit(code));
}
