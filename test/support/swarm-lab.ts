// The three-node Docker Swarm of tools/swarm-lab.sh, shared by every e2e file that needs a cluster: the first file
// of a test run brings it up (cold: engines, swarm, images), the others find it up (`up` then only checks, in
// seconds); `.ci/run` takes it down at the end. A file takes the lab shared (deploys side by side) or exclusive
// (fault injection: cut, kill); the lock is a `flock` child process, so a file that dies releases it. Faults are
// recorded with this process as their owner: a later `up` repairs them once this process is gone.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type Docker from "dockerode";

export const SWARM_LAB_SCRIPT = path.join(__dirname, "..", "..", "tools", "swarm-lab.sh");
const USE_LOCK = "/run/lock/slipway-swarm-lab.use.lock";

export interface SwarmLabNode {
  /** 1-based, as the script's cut/heal/kill/start take it. */
  index: number;
  /** The node's hostname, its name in `docker node ls`. */
  name: string;
  /** Its address on the lab bridge, reachable from this machine (host-mode published ports answer here). */
  address: string;
  /** unix://…/docker.sock of its engine (every node is a manager). */
  dockerHost: string;
}

export interface SwarmLab {
  nodes: SwarmLabNode[];
  /** A manager's DOCKER_HOST (node 1). */
  dockerHost: string;
  /** Every manager's DOCKER_HOST. */
  managers: string[];
  /** The node labelled slipway.database=true. */
  databaseNode: SwarmLabNode;
  /** The nodes labelled slipway.edge=true. */
  edgeNodes: SwarmLabNode[];
  /** dockerode on a node's engine (default node 1). */
  docker(node?: number): Docker;
  /** The docker CLI against a node (default node 1); rejects with stderr on a non-zero exit. */
  cli(args: string[], node?: number): Promise<string>;
  /** Loads images from this machine's engine into every node (those already there are skipped). */
  loadImages(refs: string[]): Promise<void>;
  /** Node n's link down / up (needs an exclusive lab). */
  cut(node: number): Promise<void>;
  heal(node: number): Promise<void>;
  /** SIGKILLs node n's dockerd, containerd, shims and containers at once / starts its engine again. */
  kill(node: number): Promise<void>;
  start(node: number): Promise<void>;
  /** Releases this file's hold on the lab (the lab stays up). */
  release(): void;
}

export interface SwarmLabOptions {
  /** Number of nodes (default 3); a lab already up with another size is an error (`down` first). */
  nodes?: number;
  /** Take the lab alone: no other file uses it meanwhile (required for cut/kill). Default: shared. */
  exclusive?: boolean;
  /** The images the file needs in every node (default: the script's set, every slipway image of this engine). */
  images?: string[];
  /** Budget for taking the lock and for `up` (ms, default SLIPWAY_SWARM_LAB_UP_TIMEOUT_MS or 20 min). */
  timeoutMs?: number;
}

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", [SWARM_LAB_SCRIPT, ...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tools/swarm-lab.sh ${args.join(" ")} failed: ${error.message}\n${stderr.slice(-4000)}`));
      else resolve(stdout);
    });
  });
}

/** Parses the KEY=value lines of `swarm-lab.sh up|env` (values optionally double-quoted). */
export function parseLabEnv(stdout: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const m = /^(SWARM_LAB_[A-Z_]+)=(?:"([^"]*)"|(\S*))$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2] ?? m[3] ?? "";
  }
  return vars;
}

function holdLock(exclusive: boolean, timeoutMs: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // `cat` ends when our end of its stdin closes: on release(), or when this process dies.
    const child = spawn("flock", [exclusive ? "-x" : "-s", "-w", String(Math.ceil(timeoutMs / 1000)), USE_LOCK, "-c", "echo held; exec cat >/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let err = "";
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout?.once("data", () => {
      child.unref();
      (child.stdin as unknown as { unref?: () => void }).unref?.();
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      (child.stderr as unknown as { unref?: () => void }).unref?.();
      resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`could not take the swarm lab ${exclusive ? "exclusively" : "shared"} (${USE_LOCK}) within ${timeoutMs} ms: flock exited ${code} ${err}`)));
  });
}

/** Brings the lab up (or finds it up) and holds it for this file until release(). */
export async function swarmLab(options: SwarmLabOptions = {}): Promise<SwarmLab> {
  const size = options.nodes ?? 3;
  const timeoutMs = options.timeoutMs ?? Number(process.env.SLIPWAY_SWARM_LAB_UP_TIMEOUT_MS ?? 20 * 60_000);
  const exclusive = options.exclusive ?? false;
  const env: NodeJS.ProcessEnv = { ...process.env, SLIPWAY_SWARM_LAB_OWNER: String(process.pid) };
  if (options.images) env.SLIPWAY_SWARM_LAB_IMAGES = options.images.join(" ");
  const lock = await holdLock(exclusive, timeoutMs);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    lock.stdin?.end();
  };
  let vars: Record<string, string>;
  try {
    vars = parseLabEnv(await run(["up", String(size)], env, timeoutMs));
  } catch (e) {
    release();
    throw e;
  }
  const words = (key: string) => (vars[key] ?? "").split(/\s+/).filter(Boolean);
  const names = words("SWARM_LAB_NODE_NAMES");
  const addresses = words("SWARM_LAB_NODE_ADDRESSES");
  const managers = words("SWARM_LAB_MANAGERS");
  if (names.length !== size || addresses.length !== size || managers.length !== size) {
    release();
    throw new Error(`tools/swarm-lab.sh up ${size} reported ${names.length} nodes: ${JSON.stringify(vars)}`);
  }
  const nodes: SwarmLabNode[] = names.map((name, i) => ({ index: i + 1, name, address: addresses[i]!, dockerHost: managers[i]! }));
  const byName = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (!node) throw new Error(`tools/swarm-lab.sh named an unknown node '${name}'`);
    return node;
  };
  const nodeOf = (index: number) => {
    const node = nodes[index - 1];
    if (!node) throw new Error(`swarm lab: no node ${index} (nodes 1..${nodes.length})`);
    return node;
  };
  const dockers = new Map<number, Docker>();
  const fault = (verb: string) => async (index: number) => {
    if (!exclusive) throw new Error(`swarm lab: '${verb}' needs the lab alone: swarmLab({ exclusive: true })`);
    nodeOf(index);
    await run([verb, String(index)], env, 5 * 60_000);
  };
  return {
    nodes,
    dockerHost: vars.SWARM_LAB_DOCKER_HOST ?? managers[0]!,
    managers,
    databaseNode: byName(vars.SWARM_LAB_DATABASE_NODE ?? ""),
    edgeNodes: words("SWARM_LAB_EDGE_NODES").map(byName),
    docker(index = 1) {
      let docker = dockers.get(index);
      if (!docker) {
        const DockerCtor = require("dockerode") as typeof Docker;
        docker = new DockerCtor({ socketPath: nodeOf(index).dockerHost.replace(/^unix:\/\//, "") });
        dockers.set(index, docker);
      }
      return docker;
    },
    cli(args, index = 1) {
      return new Promise((resolve, reject) => {
        execFile("docker", ["-H", nodeOf(index).dockerHost, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 5 * 60_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(`docker -H ${nodeOf(index).dockerHost} ${args.join(" ")}: ${stderr.trim() || error.message}`));
          else resolve(stdout);
        });
      });
    },
    async loadImages(refs) {
      await run(["load", ...refs], env, timeoutMs);
    },
    cut: fault("cut"),
    heal: fault("heal"),
    kill: fault("kill"),
    start: fault("start"),
    release,
  };
}

/**
 * Polls `check` every second until it gives a value (errors are retried, the last one reported); how long it took.
 * `state`, when given, describes what was there instead when the budget is spent (in the error: a CI log says why).
 */
export async function waitFor<T>(what: string, budgetMs: number, check: () => Promise<T | undefined>, state?: () => Promise<string>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < budgetMs) {
    try {
      const value = await check();
      if (value !== undefined) return { value, ms: Date.now() - started };
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seen = state ? await state().catch((e: Error) => `(could not describe: ${e.message})`) : "";
  throw new Error(`${what}: not within ${budgetMs} ms${last ? ` (last error: ${String(last)})` : ""}${seen ? `\n${seen}` : ""}`);
}
