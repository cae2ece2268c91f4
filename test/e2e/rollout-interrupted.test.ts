// A `pulumi up` killed mid-rollout (SIGKILL to the whole process group: CLI, language host,
// program, provider) and run again converges: exactly N replicas of ONE revision (the new one),
// no orphans, the service healthy throughout the second run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ensureImages } from "../support/docker-images";
import { deriveApiImage } from "../support/derived-images";
import { engineAvailable, engineEnv, toolchainRoot } from "../support/pulumi";
import { freePort, projectStack } from "../support/project-stack";
import { setImages } from "../../src/release/stack";

function apiContainers(prefix: string, all: boolean): { name: string; revision: string; state: string }[] {
  const out = execFileSync(
    "docker",
    ["ps", ...(all ? ["-a"] : []), "--filter", `label=slipway.stack=${prefix}`, "--filter", "label=slipway.resource=api", "--format", '{{.Names}}|{{.Label "slipway.revision"}}|{{.State}}'],
    { encoding: "utf8" },
  );
  return out.split("\n").filter(Boolean).map((l) => {
    const [name, revision, state] = l.split("|");
    return { name: name!, revision: revision!, state: state! };
  });
}

test("a pulumi up killed mid-rollout is converged by the next up: N replicas, one revision, no orphans", { timeout: 1_200_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const base = await ensureImages();
  const suffix = randomBytes(3).toString("hex");
  const v1 = deriveApiImage({ from: base.api, ref: `slipway/api:kill-${suffix}-v1`, version: "v1" });
  const v2 = deriveApiImage({ from: base.api, ref: `slipway/api:kill-${suffix}-v2`, version: "v2" });
  t.after(() => execFileSync("docker", ["rmi", "-f", v1, v2], { stdio: "ignore" }));
  const port = await freePort();
  const name = `kill${suffix}`;
  const ps = await projectStack(name, {
    environment: "staging",
    images: { api: v1, edge: base.edge, postgres: base.postgres },
    api: { replicas: 3, limits: { memoryMb: 256, cpus: 0.5 }, rollout: { healthTimeoutMs: 90000, drainTimeoutMs: 10000, stopGraceSeconds: 5 } },
    edge: { port, limits: { memoryMb: 128, cpus: 0.5 } },
    database: { limits: { memoryMb: 256, cpus: 0.5 } },
  });
  t.after(async () => {
    await ps.stack.cancel().catch(() => undefined);
    await ps.stack.destroy().catch(() => undefined);
    await ps.cleanup();
  });
  await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(apiContainers(ps.prefix, false).length, 3);

  // Start the rollout to v2 as an operator would, and kill everything once the first old replica drains.
  await setImages(ps.stack, { api: v2 });
  const child = spawn(join(toolchainRoot, "bin", "pulumi"), ["up", "--yes", "--skip-preview", "--stack", name], {
    cwd: ps.workDir,
    env: { ...process.env, ...engineEnv(ps.backendDir) },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no drain seen within 5 min:\n${output}`)), 300_000);
    const onData = (b: Buffer) => {
      output += b.toString();
      if (/: draining /.test(output)) {
        clearTimeout(timer);
        process.kill(-child.pid!, "SIGKILL");
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
  await new Promise((r) => child.on("exit", r));
  const mid = apiContainers(ps.prefix, true);
  assert.ok(new Set(mid.map((c) => c.revision)).size > 1, `killed mid-rollout: two revisions present (${JSON.stringify(mid)})`);

  // The next run: clear the lock the killed run left, then up again.
  await ps.stack.cancel().catch(() => undefined);
  const health: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      health.push(r?.status ?? 0);
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  const again = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  polling = false;
  await poller;
  assert.equal(again.summary.result, "succeeded");

  const end = apiContainers(ps.prefix, true);
  assert.equal(end.length, 3, `exactly 3 api containers, none stopped or orphaned: ${JSON.stringify(end)}`);
  assert.ok(end.every((c) => c.state === "running"));
  assert.equal(new Set(end.map((c) => c.revision)).size, 1, "one revision");
  assert.equal(again.outputs.image!.value, v2);
  const h = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { version: string };
  assert.equal(h.version, "v2");
  assert.ok(health.length > 0 && health.every((s) => s === 200), `health stayed 200 during the converging run: ${health.filter((s) => s !== 200).length} misses`);
});
