// Under the real engine, on one stack:
// 1. a `pulumi up` killed mid-rollout (SIGKILL to the whole process group: CLI, language host,
//    program, provider) and run again converges: exactly N replicas of ONE revision (the new one),
//    no orphans, the service healthy throughout the second run;
// 2. an image whose health check fails: `up` fails naming the replica and the reason, the edge
//    answers 200 throughout, the old version still serves, and the next `up` with a good image works.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { ensureImages } from "../support/docker-images";
import { deriveApiImage } from "../support/derived-images";
import { engineAvailable, engineEnv, pulumiBinary } from "../support/pulumi";
import { freePort, projectStack, smallStackConfig } from "../support/project-stack";
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

test("killed up converges; a failing health check fails up, keeps the old version serving, and a good image fixes it", { timeout: 1_200_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const base = await ensureImages();
  const suffix = randomBytes(3).toString("hex");
  const v1 = deriveApiImage({ from: base.api, ref: `slipway/api:kill-${suffix}-v1`, version: "v1" });
  const v2 = deriveApiImage({ from: base.api, ref: `slipway/api:kill-${suffix}-v2`, version: "v2" });
  // Migrations fine, server up, but it talks to a wrong database port: it never becomes ready (/up 503), Docker says unhealthy.
  const sick = deriveApiImage({
    from: base.api,
    ref: `slipway/api:kill-${suffix}-sick`,
    version: "sick",
    cmd: ["sh", "-c", "PGPORT=1 exec node dist/api/server.js"],
  });
  t.after(() => execFileSync("docker", ["rmi", "-f", v1, v2, sick], { stdio: "ignore" }));
  const port = await freePort();
  const name = `kill${suffix}`;
  const ps = await projectStack(
    name,
    smallStackConfig({ images: { api: v1, edge: base.edge, postgres: base.postgres }, port, replicas: 3, healthTimeoutMs: 90000 }),
  );
  t.after(async () => {
    await ps.stack.cancel().catch(() => undefined);
    await ps.stack.destroy().catch(() => undefined);
    await ps.cleanup();
  });
  await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(apiContainers(ps.prefix, false).length, 3);

  // Start the rollout to v2 as an operator would, and kill everything once the first old replica drains.
  await setImages(ps.stack, { api: v2 });
  const child = spawn(pulumiBinary()!, ["up", "--yes", "--skip-preview", "--stack", name], {
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
  const health = pollHealth(port);
  const again = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  const statuses = await health.stop();
  assert.equal(again.summary.result, "succeeded");

  const end = apiContainers(ps.prefix, true);
  assert.equal(end.length, 3, `exactly 3 api containers, none stopped or orphaned: ${JSON.stringify(end)}`);
  assert.ok(end.every((c) => c.state === "running"));
  assert.equal(new Set(end.map((c) => c.revision)).size, 1, "one revision");
  assert.equal(again.outputs.image!.value, v2);
  const h = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { version: string };
  assert.equal(h.version, "v2");
  assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `health stayed 200 during the converging run: ${statuses.filter((s) => s !== 200).length} misses`);

  // 2. a failing health check
  const before = apiContainers(ps.prefix, true).map((c) => c.name).sort();
  await setImages(ps.stack, { api: sick });
  const during = pollHealth(port);
  await assert.rejects(ps.stack.up({ onOutput: (s) => process.stderr.write(s) }), (err: Error) => {
    assert.match(err.message, new RegExp(`${ps.prefix}-api-[0-9a-f]+-1`), "names the replica");
    assert.match(err.message, /is unhealthy/, "says why");
    assert.match(err.message, /Last health check: .*GET \/up: 503 .*"waitingFor":"db"/, "quotes the failing health check");
    return true;
  });
  const sickStatuses = await during.stop();
  assert.ok(sickStatuses.every((s) => s === 200), `edge answered 200 throughout the failed rollout (${sickStatuses.filter((s) => s !== 200).length} misses)`);
  assert.deepEqual(apiContainers(ps.prefix, true).map((c) => c.name).sort(), before, "the old replicas, and only they, remain");
  assert.equal(((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { version: string }).version, "v2");
  await setImages(ps.stack, { api: v1 });
  const fixed = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(fixed.summary.result, "succeeded");
  assert.equal(((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { version: string }).version, "v1");
});

/** GET /health through the edge every 250 ms until stopped; returns the statuses (0 = no answer). */
function pollHealth(port: number): { stop(): Promise<number[]> } {
  const statuses: number[] = [];
  let polling = true;
  const loop = (async () => {
    while (polling) {
      const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
      statuses.push(r?.status ?? 0);
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  return {
    async stop() {
      polling = false;
      await loop;
      return statuses;
    },
  };
}
