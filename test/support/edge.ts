// The world a rollout test needs behind and in front of the replicas: a user network, PostgreSQL on it with
// the API's migrations applied, and the edge (slipway/edge) with our haproxy.cfg uploaded at create time
// (putArchive, no bind mount), published on 127.0.0.1 only. Everything carries a unique prefix and
// `cleanup()` removes it all, including containers the rollout left behind.
import type Docker from "dockerode";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { renderHaproxyConfig } from "../../src/edge/haproxy-config";
import { edgeRuntime } from "../../src/edge/runtime-api";
import { TarEntry, tarFiles } from "../../src/docker";
import { connectDocker } from "../../src/rollout";
import type { ReplicaSpec } from "../../src/rollout";
import { execInContainer } from "../../src/docker";
import { pgIsReady, psql } from "./postgres";
import { apiProbe } from "../../src/vocabulary";
import { LABEL_ROLE, LABEL_STACK, ROLES } from "../../src/vocabulary";

export interface EdgeEnvironment {
  docker: Docker;
  /** Unique, lower-case: use as the replica set's stack name. */
  stack: string;
  network: string;
  edgeContainer: string;
  backend: string;
  /** Where the rollout finds this environment's edge (by the stack label) and which backend it fills. */
  edgeTarget: { stack: string; backend: string };
  /** http://127.0.0.1:<port> of the edge's frontend. */
  url: string;
  databaseUrl: string;
  /** A replica spec wired to this environment (network alias "api", DATABASE_URL, image health check). */
  apiSpec(image: string, extra?: Partial<ReplicaSpec>): ReplicaSpec;
  /** Tags `image` under a unique throwaway name (a "new image" without a build); removed on cleanup. */
  retag(image: string, suffix: string): Promise<string>;
  /** Builds a throwaway image from Dockerfile lines (and context files) on top of `base`; removed on cleanup. */
  derive(base: string, suffix: string, dockerfileLines: string[], files?: TarEntry[]): Promise<string>;
  /** Runs SQL in the environment's database as the owner. */
  sql(statement: string): Promise<string>;
  cleanup(): Promise<void>;
}



/** Budgets for tests and benchmarks: generous (a 2-core machine under load is slow), and configurable. */
/** A wait's budget in ms: the environment variable `name` when set, else `fallback` (a 2-core machine under load is slow). */
export const budget = (name: string, fallback: number) => Number(process.env[name] ?? "") || fallback;
/** Docker's per-probe health-check timeout (SLIPWAY_HEALTHCHECK_TIMEOUT_MS). */
export const HEALTHCHECK_TIMEOUT_MS = budget("SLIPWAY_HEALTHCHECK_TIMEOUT_MS", 10_000);
/** The API image's readiness probe, its own request timeout inside Docker's. */
export const API_HEALTHCHECK = apiProbe("/up", HEALTHCHECK_TIMEOUT_MS);
/** Rollout budgets (SLIPWAY_HEALTH_TIMEOUT_MS: from start until healthy). */
export const TEST_ROLLOUT_TIMEOUTS = {
  healthTimeoutMs: budget("SLIPWAY_HEALTH_TIMEOUT_MS", 120_000),
  edgeUpTimeoutMs: 30_000,
  drainTimeoutMs: 30_000,
  stopGraceSeconds: 10,
};

export async function startEdgeEnvironment(opts: {
  edgeImage: string;
  apiImage: string;
  postgresImage?: string;
  prefix?: string;
  /** "overlay" (attachable) lets Swarm services join the same network; needs an active swarm. */
  networkDriver?: "bridge" | "overlay";
}): Promise<EdgeEnvironment> {
  const docker = connectDocker();
  const stack = `${opts.prefix ?? "rt"}${randomBytes(3).toString("hex")}`;
  const network = `${stack}-net`;
  const edgeContainer = `${stack}-edge`;
  const pgContainer = `${stack}-pg`;
  const backend = "api";
  const images: string[] = [];
  const password = randomBytes(12).toString("hex");
  const databaseUrl = `postgres://slipway:${password}@db:5432/slipway`;

  const cleanup = async () => {
    const leftovers = await docker.listContainers({ all: true, filters: { label: [`${LABEL_STACK}=${stack}`] } });
    const names = [edgeContainer, pgContainer, ...leftovers.map((c) => c.Id)];
    await Promise.all(names.map((n) => docker.getContainer(n).remove({ force: true, v: true }).catch(() => undefined)));
    // An overlay network stays "in use" for a moment after its last Swarm task is gone.
    for (let i = 0; i < 20; i++) {
      const gone = await docker.getNetwork(network).remove().then(() => true, (e: { statusCode?: number }) => e.statusCode === 404);
      if (gone) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const image of images) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
  };

  try {
    const driver = opts.networkDriver ?? "bridge";
    await docker.createNetwork({ Name: network, Driver: driver, Attachable: driver === "overlay", Labels: { "slipway.test": stack } });

    const pg = await docker.createContainer({
      name: pgContainer,
      Image: opts.postgresImage ?? "slipway-local/postgres:17",
      Env: [`POSTGRES_PASSWORD=${password}`, "POSTGRES_USER=slipway", "POSTGRES_DB=slipway"],
      Labels: { "slipway.test": stack },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ["db"] } } },
    });
    await pg.start();
    const deadline = Date.now() + 60_000;
    while ((await execInContainer(docker, pgContainer, pgIsReady({ user: "slipway", database: "slipway" })).catch(() => undefined))?.exitCode !== 0) {
      if (Date.now() > deadline) throw new Error(`postgres ${pgContainer} not ready within 60 s`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await runOnce(docker, { image: opts.apiImage, network, cmd: ["node", "dist/api/migrate.js"], env: [`DATABASE_URL=${databaseUrl}`], name: `${stack}-migrate` });

    const edge = await docker.createContainer({
      name: edgeContainer,
      Image: opts.edgeImage,
      Labels: { "slipway.test": stack, [LABEL_STACK]: stack, [LABEL_ROLE]: ROLES.edge },
      ExposedPorts: { "8080/tcp": {} },
      HostConfig: { NetworkMode: network, PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
    });
    const cfg = renderHaproxyConfig({ backend, serviceHost: "api", servicePort: 3000, listenPort: 8080 });
    await edge.putArchive(tarFiles([{ path: "haproxy.cfg", content: cfg }, { path: "maintenance.map", content: "" }]), { path: "/usr/local/etc/haproxy" });
    await edge.start();
    const info = await edge.inspect();
    const port = info.NetworkSettings.Ports["8080/tcp"]?.[0]?.HostPort;
    if (!info.State.Running || !port) throw new Error(`edge ${edgeContainer} did not start: ${await logsOf(edge)}`);
    // HAProxy creates its admin socket a moment after the container starts (longer on a loaded machine).
    const runtime = edgeRuntime(docker, edgeContainer);
    const edgeDeadline = Date.now() + 30_000;
    while (!(await runtime.serversState(backend).then(() => true, () => false))) {
      if (Date.now() > edgeDeadline) throw new Error(`edge ${edgeContainer}: runtime API not answering within 30 s:\n${await logsOf(edge)}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    return {
      docker,
      stack,
      network,
      edgeContainer,
      backend,
      edgeTarget: { stack, backend },
      url: `http://127.0.0.1:${port}`,
      databaseUrl,
      apiSpec: (image, extra = {}) => ({
        stack,
        service: "api",
        image,
        replicas: 3,
        env: { DATABASE_URL: databaseUrl, PORT: "3000" },
        networks: [{ name: network, aliases: ["api"] }],
        memoryMb: 256,
        cpus: 1,
        restartPolicy: "no",
        // Generous timeout and start period: the machine is shared and loaded, and a check that times out
        // while the app boots must not fail a healthy replica. A success still counts at once.
        healthcheck: { test: API_HEALTHCHECK, intervalMs: 1000, timeoutMs: HEALTHCHECK_TIMEOUT_MS, retries: 5, startPeriodMs: 10_000 },
        ...extra,
      }),
      retag: async (image, suffix) => {
        const repo = `slipway-test/${stack}`;
        await docker.getImage(image).tag({ repo, tag: suffix });
        images.push(`${repo}:${suffix}`);
        return `${repo}:${suffix}`;
      },
      derive: async (base, suffix, lines, files = []) => {
        const ref = `slipway-test/${stack}:${suffix}`;
        const context = tarFiles([{ path: "Dockerfile", content: [`FROM ${base}`, ...lines, ""].join("\n") }, ...files]);
        const stream = await docker.buildImage(Readable.from(context), { t: ref });
        await new Promise<void>((resolve, reject) =>
          docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
            const failed = err ?? out.find((o) => o.error)?.error;
            if (failed) reject(new Error(`building ${ref}: ${String(failed)}`));
            else resolve();
          }),
        );
        images.push(ref);
        return ref;
      },
      sql: async (statement) => {
        const r = await execInContainer(docker, pgContainer, psql({ user: "slipway", database: "slipway" }, statement));
        if (r.exitCode !== 0) throw new Error(`psql in ${pgContainer}: ${r.stderr}`);
        return r.stdout.trim();
      },
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function runOnce(docker: Docker, o: { image: string; network: string; cmd: string[]; env: string[]; name: string }): Promise<void> {
  const c = await docker.createContainer({ name: o.name, Image: o.image, Cmd: o.cmd, Env: o.env, HostConfig: { NetworkMode: o.network } });
  try {
    await c.start();
    const { StatusCode } = await c.wait();
    if (StatusCode !== 0) throw new Error(`${o.cmd.join(" ")} in ${o.image} exited ${StatusCode}:\n${await logsOf(c)}`);
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

async function logsOf(c: Docker.Container): Promise<string> {
  const { demuxLogs } = await import("../../src/docker");
  return demuxLogs((await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
}
