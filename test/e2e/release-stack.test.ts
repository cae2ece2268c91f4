// The release stack under the real engine and real Docker: `pulumi up` of a staging-shaped stack
// with locally built images; /health through the edge is 200 with db ok; data written through
// the API survives a second `up` that rolls the replicas; `npm run status` shows the replicas UP at the edge and
// exits 0, then 1 naming a replica stopped by hand; `destroy` leaves nothing of the stack.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { ensureImages } from "../support/docker-images";
import { engineAvailable } from "../support/pulumi";
import { freePort, projectStack, runStatus, smallStackConfig } from "../support/project-stack";

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json() };
}

async function leftovers(docker: Docker, prefix: string): Promise<string[]> {
  const containers = (await docker.listContainers({ all: true })).filter((c) => c.Names.some((n) => n.startsWith(`/${prefix}-`)));
  const networks = (await docker.listNetworks()).filter((n) => n.Name.startsWith(`${prefix}-`));
  const volumes = ((await docker.listVolumes()).Volumes ?? []).filter((v) => v.Name.startsWith(`${prefix}-`));
  return [...containers.map((c) => `container ${c.Names[0]}`), ...networks.map((n) => `network ${n.Name}`), ...volumes.map((v) => `volume ${v.Name}`)];
}

test("staging stack: up, health through the edge, data survives a rolling second up, destroy leaves nothing", { timeout: 900_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await ensureImages();
  const docker = new Docker();
  const port = await freePort();
  const name = `e2e${randomBytes(3).toString("hex")}`;
  const ps = await projectStack(
    name,
    smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, replicas: 2, apiEnv: { LOG_LEVEL: "info" } }),
  );
  t.after(async () => {
    await ps.stack.destroy().catch(() => undefined);
    await ps.cleanup();
  });

  const up = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(up.summary.result, "succeeded");
  const edgeUrl = up.outputs.edgeUrl!.value as string;
  assert.equal(edgeUrl, `http://127.0.0.1:${port}`);
  assert.equal(up.outputs.replicas!.value, 2);
  assert.equal(up.outputs.image!.value, images.api);
  assert.equal(up.outputs.dbContainer!.value, `${ps.prefix}-db`);

  // Nothing the provider reads back differently: a preview right after the up is empty (the contract).
  await ps.stack.preview({ expectNoChanges: true });

  const health = await getJson(`${edgeUrl}/health`);
  assert.equal(health.status, 200);
  assert.equal(health.body.checks.db, "ok");

  const created = await getJson(`${edgeUrl}/items`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: `survivor-${name}` }),
  });
  assert.equal(created.status, 201);

  // The database is not published on the host.
  const db = await docker.getContainer(`${ps.prefix}-db`).inspect();
  assert.deepEqual(Object.values(db.NetworkSettings.Ports ?? {}).filter(Boolean), []);

  // Second up with a changed env: the replica set rolls, the data stays.
  const before = (up.outputs.apiContainers!.value as string[]).slice().sort();
  await ps.stack.setConfig("slipway:api.env.LOG_LEVEL", { value: "debug" }, true);
  // The rollout also writes one JSON line per step where SLIPWAY_ROLLOUT_EVENTS says (the provider inherits it).
  const events = join(mkdtempSync(join(tmpdir(), "slipway-events-")), "rollout.jsonl");
  process.env.SLIPWAY_ROLLOUT_EVENTS = events;
  t.after(() => delete process.env.SLIPWAY_ROLLOUT_EVENTS);
  const up2 = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(up2.summary.result, "succeeded");
  assert.equal(up2.summary.resourceChanges?.replace ?? 0, 0, "a routine deploy replaces no container (database, edge)");
  await ps.stack.preview({ expectNoChanges: true });
  const after = (up2.outputs.apiContainers!.value as string[]).slice().sort();
  assert.equal(after.length, 2);
  assert.notDeepEqual(after, before, "replicas were replaced");
  const steps = readFileSync(events, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: string; container: string; outcome: string; durationMs: number; replica?: number });
  for (const name of after) {
    assert.deepEqual(steps.filter((e) => e.container === name).map((e) => e.step), ["start-new", "wait-healthy", "wait-edge-up"], `events of ${name}`);
  }
  for (const name of before) {
    assert.deepEqual(steps.filter((e) => e.container === name).map((e) => e.step), ["drain-old", "wait-drained", "remove-old"], `events of ${name}`);
  }
  assert.ok(steps.every((e) => e.outcome === "ok" && e.durationMs >= 0), "every step ok, with its duration");
  const items = await getJson(`${edgeUrl}/items`);
  assert.equal(items.status, 200);
  assert.ok(items.body.some((i: { name: string }) => i.name === `survivor-${name}`), "data survived the second up");

  // `npm run status`: every replica running, healthy and UP at the edge → exit 0; one stopped by hand → exit 1, named.
  const status = (flags: { json?: boolean } = {}) => runStatus(ps, flags);
  const ok = status();
  assert.equal(ok.status, 0, `status: ${ok.stdout}${ok.stderr}`);
  for (const c of after) assert.match(ok.stdout, new RegExp(`${c}\\s+[0-9a-f]{12}\\s+${images.api.replace(/[.:/]/g, "\\$&")}\\s+running\\s+healthy\\s+UP api/[\\w.-]+\\s+[1-9]\\d*`), ok.stdout);
  assert.match(ok.stdout, /last deploys:\n\s+#\d+ .*update\s+succeeded/);
  assert.match(ok.stdout, /\nhealthy\n$/);
  const json = status({ json: true });
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { healthy: boolean; replicas: { container: string; edge: string }[] };
  assert.deepEqual(report.replicas.map((r) => [r.container, r.edge]).sort(), after.map((c) => [c, "UP"]));
  await docker.getContainer(after[0]).stop({ t: 5 });
  const sick = status();
  assert.equal(sick.status, 1, `status with ${after[0]} stopped: ${sick.stdout}${sick.stderr}`);
  assert.match(sick.stdout, new RegExp(`UNHEALTHY:\\n  - replica ${after[0]}: container exited`), sick.stdout);

  const destroyed = await ps.stack.destroy({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(destroyed.summary.result, "succeeded");
  assert.deepEqual(await leftovers(docker, ps.prefix), []);
});
