// A throwaway stack of the real slipway program: a temp directory that links to this repository's
// program (infra/, stacks/, src/, node_modules) with its own Pulumi.<stack>.yaml, on its own file
// backend, so tests never touch the committed stack files or each other's state.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Stack } from "@pulumi/pulumi/automation";
import { engineEnv, localStack, newBackendDir, repoRoot } from "./pulumi";
import { statusVerb } from "../../src/status/verb";
import { lockName } from "../../src/docker/stack-lock";
import { HEALTHCHECK_TIMEOUT_MS, TEST_ROLLOUT_TIMEOUTS } from "./edge";

export interface ProjectStack {
  stack: Stack;
  stackName: string;
  /** Docker name prefix of everything the stack creates: slipway-<stack>. */
  prefix: string;
  workDir: string;
  backendDir: string;
  cleanup(): Promise<void>;
}

/** Whether 127.0.0.1:`port` can be bound now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 now, for a container to publish later. Not from the kernel's ephemeral range
 * (ip_local_port_range, 32768–60999 by default) that listen(0) draws from: such a port can be handed to an outgoing
 * connection — the load generators of the files running beside this one open hundreds — before Docker binds it (e2e
 * edge-tls failed so: "bind: address already in use").
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canBind(port)) return port;
  }
  throw new Error("freePort: no free port in 20000–31999 after 200 tries");
}

/** config: top-level `slipway:` keys (without the namespace) → values, written to Pulumi.<stack>.yaml; env: more engine environment. */
export async function projectStack(stackName: string, config: Record<string, unknown>, env?: Record<string, string>): Promise<ProjectStack> {
  const workDir = mkdtempSync(join(tmpdir(), `slipway-${stackName}-`));
  for (const entry of ["infra", "stacks", "src", "node_modules", "package.json", "tsconfig.json"]) {
    symlinkSync(join(repoRoot, entry), join(workDir, entry));
  }
  copyFileSync(join(repoRoot, "Pulumi.yaml"), join(workDir, "Pulumi.yaml"));
  const namespaced = Object.fromEntries(Object.entries(config).map(([k, v]) => [`slipway:${k}`, v]));
  writeFileSync(join(workDir, `Pulumi.${stackName}.yaml`), stringify({ config: namespaced }));
  const backendDir = newBackendDir(stackName);
  const stack = await localStack({ workDir, stackName, backendDir, ...(env ? { env } : {}) });
  return {
    stack,
    stackName,
    prefix: `slipway-${stackName}`,
    workDir,
    backendDir,
    async cleanup() {
      // A deploy whose program was killed (a failed or cancelled `pulumi up`) leaves its stack lock behind: stale at
      // once on this host (its pid is gone), but a container all the same — not one more per test run.
      spawnSync("docker", ["rm", "-f", lockName(`slipway-${stackName}`)], { stdio: "ignore", timeout: 30_000 });
      rmSync(workDir, { recursive: true, force: true });
      rmSync(backendDir, { recursive: true, force: true });
    },
  };
}

/** The config of a small staging-shaped stack for tests: limits everywhere, short drains, the given images and port. */
export function smallStackConfig(opts: {
  images: { api: string; edge: string; postgres: string };
  port: number;
  replicas: number;
  healthTimeoutMs?: number;
  apiEnv?: Record<string, string>;
}): Record<string, unknown> {
  return {
    environment: "staging",
    images: opts.images,
    api: {
      replicas: opts.replicas,
      limits: { memoryMb: 256, cpus: 0.5 },
      ...(opts.apiEnv ? { env: opts.apiEnv } : {}),
      // Test budgets (configurable, generous: a loaded 2-core machine can take seconds per probe).
      healthcheck: { timeoutMs: HEALTHCHECK_TIMEOUT_MS, retries: 5 },
      rollout: { healthTimeoutMs: opts.healthTimeoutMs ?? TEST_ROLLOUT_TIMEOUTS.healthTimeoutMs, drainTimeoutMs: 10000, stopGraceSeconds: 5 },
    },
    edge: { port: opts.port, bindAddress: "127.0.0.1", limits: { memoryMb: 128, cpus: 0.5 } },
    database: { name: "app", user: "app", limits: { memoryMb: 256, cpus: 0.5 } },
  };
}

/** `npm run status -- --stack <its stack>` as the operator runs it (the verb's own command line), against `ps`. */
export function runStatus(ps: Pick<ProjectStack, "stackName" | "backendDir" | "workDir">, flags: { json?: boolean } = {}) {
  return spawnSync(process.execPath, statusVerb({ stack: ps.stackName, ...flags }).slice(1) /* its "node" is this one */, {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir },
    timeout: 180_000,
  });
}
