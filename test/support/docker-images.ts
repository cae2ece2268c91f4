// Ensures the slipway images exist (runs tools/images.sh at most once per tag per process) and returns refs.
import { execFile } from "node:child_process";
import path from "node:path";
import { dockerBuildArgs, loadBake } from "../../tools/bake";

export interface ImageRefs {
  debian: string;
  node: string;
  postgres: string;
  haproxy: string;
  api: string;
  apiAbrupt: string;
  edge: string;
  /** PostgreSQL + pgBackRest (docker-bake.hcl target postgres): what backup.wal needs. */
  postgresWal: string;
}

export interface ImageOptions {
  /** Tag of the project images (default: git short SHA, as tools/images.sh decides). */
  tag?: string;
  /** APP_VERSION baked into the api images (default: the tag). */
  apiVersion?: string;
}

const SCRIPT = path.join(__dirname, "..", "..", "tools", "images.sh");
const KEYS: Record<string, keyof ImageRefs> = {
  DEBIAN_IMAGE: "debian",
  NODE_IMAGE: "node",
  POSTGRES_IMAGE: "postgres",
  HAPROXY_IMAGE: "haproxy",
  API_IMAGE: "api",
  API_ABRUPT_IMAGE: "apiAbrupt",
  EDGE_IMAGE: "edge",
  POSTGRES_WAL_IMAGE: "postgresWal",
};

/** Parses the KEY=ref lines tools/images.sh prints on stdout. */
export function parseImageRefs(stdout: string): ImageRefs {
  const refs: Partial<ImageRefs> = {};
  for (const line of stdout.split("\n")) {
    const match = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (match && KEYS[match[1]]) refs[KEYS[match[1]]] = match[2];
  }
  const missing = Object.values(KEYS).filter((key) => !refs[key]);
  if (missing.length > 0) throw new Error(`tools/images.sh did not report: ${missing.join(", ")}`);
  return refs as ImageRefs;
}

const builds = new Map<string, Promise<ImageRefs>>();

export function ensureImages(options: ImageOptions = {}): Promise<ImageRefs> {
  const args = [
    ...(options.tag ? ["--tag", options.tag] : []),
    ...(options.apiVersion ? ["--api-version", options.apiVersion] : []),
  ];
  const key = args.join(" ");
  let build = builds.get(key);
  if (!build) {
    build = new Promise<ImageRefs>((resolve, reject) => {
      execFile("bash", [SCRIPT, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 30 * 60_000 }, (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`tools/images.sh ${key} failed: ${error.message}\n${stderr.slice(-4000)}`));
          return;
        }
        try {
          resolve(parseImageRefs(stdout));
        } catch (parseError) {
          reject(parseError);
        }
      });
    });
    builds.set(key, build);
  }
  return build;
}

/**
 * The images tests and benchmarks run against: those of SLIPWAY_IMAGE_TAG when it is set (already
 * built, e.g. by CI), otherwise built for this commit by ensureImages().
 */
export async function testImages(): Promise<ImageRefs> {
  const tag = process.env.SLIPWAY_IMAGE_TAG;
  if (!tag) return ensureImages();
  return {
    debian: "slipway-local/debian:trixie",
    node: "slipway-local/node:20",
    postgres: "slipway-local/postgres:17",
    haproxy: "slipway-local/haproxy:3.0",
    api: `slipway/api:${tag}`,
    apiAbrupt: `slipway/api:${tag}-abrupt`,
    edge: `slipway/edge:${tag}`,
    postgresWal: "slipway/postgres:17-pgbackrest",
  };
}

/**
 * Builds the production API image as CI builds it — docker-bake.hcl's `prod` with its defaults, so TEST_ROUTES=false
 * (no /slow) — on `nodeImage`, with the legacy builder as tools/images.sh does (the dependency layers come from its
 * cache), tagged `<repo>:<tag>` and `<repo>:sha-<tag>`. Returns the tags, the first being the image to run.
 */
export function buildProductionApi(opts: { nodeImage: string; repo: string; tag: string }): Promise<string[]> {
  const target = loadBake(["prod"], { NODE_IMAGE: opts.nodeImage, API_REPO: opts.repo, TAG: opts.tag, GIT_SHA: opts.tag, APP_VERSION: `prod-${opts.tag}` }).target.prod!;
  if (target.args.TEST_ROUTES !== "false") throw new Error(`docker-bake.hcl's prod must default to TEST_ROUTES=false, got ${target.args.TEST_ROUTES}`);
  const args = ["build", "--network", "host", ...dockerBuildArgs(target, path.join(__dirname, "..", ".."))];
  return new Promise((resolve, reject) => {
    execFile("docker", args, { maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60_000, env: { ...process.env, DOCKER_BUILDKIT: "0" } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`docker build of the production API image failed: ${error.message}\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
      else resolve(target.tags);
    });
  });
}
