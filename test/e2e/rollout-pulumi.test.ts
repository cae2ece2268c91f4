// The ReplicaSet dynamic provider under the real Pulumi engine (the one test/support/pulumi.ts picks: our toolchain,
// or with SLIPWAY_TOOLCHAIN=official the `pulumi` on PATH and ~/.pulumi):
// `pulumi up` creates 3 replicas behind the edge, a config change rolls them, `pulumi refresh` reads them,
// `pulumi destroy` drains and removes them — and `env` never appears in plain text in the state.
// A throwaway program and a throwaway file backend live under .slipway/tmp (gitignored), removed afterwards.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { observe } from "../../src/rollout";
import { ensureImages, ImageRefs } from "../support/docker-images";
import { EdgeEnvironment, startEdgeEnvironment, HEALTHCHECK_TIMEOUT_MS } from "../support/edge";
import { diagnosticsOf, engineAvailable, engineEnv, pulumiBinary } from "../support/pulumi";

const ROOT = path.resolve(__dirname, "..", "..");

function imageRefs(): Promise<ImageRefs> {
  const tag = process.env.SLIPWAY_IMAGE_TAG;
  if (!tag) return ensureImages();
  return Promise.resolve({
    debian: "slipway-local/debian:trixie", node: "slipway-local/node:20", postgres: "slipway-local/postgres:17",
    haproxy: "slipway-local/haproxy:3.0", api: `slipway/api:${tag}`, apiAbrupt: `slipway/api:${tag}-abrupt`, edge: `slipway/edge:${tag}`,
    postgresWal: "slipway/postgres:17-pgbackrest",
  });
}

const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import { ReplicaSet } from ${JSON.stringify(path.join(ROOT, "infra", "providers", "replica-set"))};
const cfg = new pulumi.Config();
const e = process.env;
const rs = new ReplicaSet("api", {
  stack: e.T_STACK!, service: "api", image: cfg.require("image"), replicas: cfg.requireNumber("replicas"),
  env: { DATABASE_URL: cfg.requireSecret("databaseUrl"), PORT: "3000", APP_VERSION: cfg.require("version") },
  networks: [{ name: e.T_NETWORK!, aliases: ["api"] }],
  memoryMb: 256, cpus: 0.5, restartPolicy: "no",
  healthcheck: { test: ["CMD", "bash", "dist/api/healthcheck.sh", "/up", String(Number(e.T_HC_TIMEOUT_MS) - 500)], intervalMs: 1000, timeoutMs: Number(e.T_HC_TIMEOUT_MS), retries: 5, startPeriodMs: 10000 },
  volumes: [],
  edge: { stack: e.T_STACK!, backend: "api" },
  rollout: { healthTimeoutMs: 60000, edgeUpTimeoutMs: 20000, drainTimeoutMs: 30000, stopGraceSeconds: 10 },
});
export const containers = rs.containers;
export const revision = rs.revision;
`;

// A missing toolchain is a failure, not a skip: this suite is the proof that the provider works under the engine.
describe("ReplicaSet under the real Pulumi engine", { timeout: 15 * 60_000 }, () => {
  let env: EdgeEnvironment;
  let refs: ImageRefs;
  let dir: string;
  let run: (...args: string[]) => Promise<string>;
  let runBoth: (...args: string[]) => Promise<string>;

  before(async () => {
    assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
    const pulumi = pulumiBinary()!;
    refs = await imageRefs();
    env = await startEdgeEnvironment({ edgeImage: refs.edge, apiImage: refs.api, postgresImage: refs.postgres, prefix: "pu" });
    dir = path.join(ROOT, ".slipway", "tmp", env.stack);
    await mkdir(path.join(dir, "state"), { recursive: true });
    await writeFile(path.join(dir, "index.ts"), PROGRAM);
    await writeFile(
      path.join(dir, "Pulumi.yaml"),
      `name: replicaset-e2e\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n    nodeargs: "--import tsx"\nmain: index.ts\n`,
    );
    const childEnv = {
      ...process.env,
      ...engineEnv(path.join(dir, "state"), {
        T_STACK: env.stack,
        T_NETWORK: env.network,
        T_EDGE: env.edgeContainer,
        T_HC_TIMEOUT_MS: String(HEALTHCHECK_TIMEOUT_MS),
      }),
    };
    const pulumiRun = (both: boolean, args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(pulumi, [...args, "--non-interactive", "--cwd", dir], { env: childEnv, maxBuffer: 64 << 20, timeout: 10 * 60_000 }, (err, stdout, stderr) => {
          if (process.env.SLIPWAY_E2E_VERBOSE) console.log(stdout, stderr);
          if (err) reject(new Error(`pulumi ${args.join(" ")} failed: ${err.message}\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
          else resolve(both ? `${stdout}\n${stderr}` : stdout);
        }),
      );
    run = (...args) => pulumiRun(false, args);
    // stdout and stderr: where the engine prints a resource's diagnostics depends on the display.
    runBoth = (...args) => pulumiRun(true, args);
    await run("stack", "init", "e2e");
    await run("config", "set", "databaseUrl", env.databaseUrl, "--secret");
    await run("config", "set", "replicas", "3");
  });

  after(async () => {
    await run?.("destroy", "--yes", "--skip-preview").catch((e) => console.log(`cleanup destroy: ${(e as Error).message}`));
    await env?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const running = async () => (await observe(env.docker, env.stack, "api")).filter((c) => c.running);
  const version = async () => ((await (await fetch(`${env.url}/health`)).json()) as { version?: string }).version;

  it("up creates 3 replicas; a config change rolls them (update, not replace); env stays secret in state", async () => {
    await run("config", "set", "image", refs.api);
    await run("config", "set", "version", "p1");
    await run("up", "--yes", "--skip-preview");
    const first = await running();
    assert.equal(first.length, 3);
    assert.equal(await version(), "p1");

    await run("config", "set", "version", "p2");
    const preview = await run("preview", "--diff");
    assert.match(preview, /~ .*slipway:index:ReplicaSet|update/);
    assert.doesNotMatch(preview, /\+-.*ReplicaSet|replace/);
    // The preview says in one line what the up will do, under the replica set (the engine's log with its URN); in a
    // preview the new revision is not known yet (the serialized provider is an input, unknown until the up).
    const plain = await runBoth("preview");
    const previewLines = diagnosticsOf(plain, "pulumi-nodejs:dynamic/slipway:ReplicaSet (api)");
    assert.ok(previewLines.some((l) => l.startsWith(`[rollout] rolling 3 replicas ${first[0].revision.slice(0, 8)}→`) && l.endsWith(", surge 1")), `no one-line summary under the replica set:\n${plain}`);
    const up = await run("up", "--yes", "--skip-preview");
    console.log(up.split("\n").filter((l) => /ReplicaSet|updated|Resources|rollout/.test(l)).join("\n"));
    // The rollout's lines are the replica set's, not the stack's.
    const mine = diagnosticsOf(up, "pulumi-nodejs:dynamic/slipway:ReplicaSet (api)");
    assert.ok(mine.filter((l) => l.startsWith("[rollout] ")).length >= 6, `rollout lines under the replica set:\n${up}`);
    assert.ok(mine.some((l) => /^\[rollout\] .*: drained/.test(l)), "the drain steps are among them");
    assert.deepEqual(diagnosticsOf(up, "pulumi:pulumi:Stack").filter((l) => l.includes("[rollout]")), [], "no rollout line under the stack");
    // The URN input changes nothing: the preview right after the up is empty.
    await run("preview", "--expect-no-changes");
    const second = await running();
    assert.equal(second.length, 3);
    assert.equal(new Set(second.map((c) => c.revision)).size, 1);
    assert.notEqual(second[0].revision, first[0].revision);
    assert.equal(await version(), "p2");

    const state = await run("stack", "export");
    assert.ok(!state.includes(env.databaseUrl), "DATABASE_URL appears in plain text in the state");
    const outputs = JSON.parse(await run("stack", "output", "--json")) as { containers: string[]; revision: string };
    assert.deepEqual(outputs.containers, second.map((c) => c.name).sort());
  });

  it("refresh reads the containers; destroy drains and removes them all", async () => {
    await run("refresh", "--yes", "--skip-preview");
    await run("destroy", "--yes", "--skip-preview");
    assert.deepEqual(await observe(env.docker, env.stack, "api"), []);
  });
});
