// backup → migrate → rollout under the real engine, on one stack over several deploys:
//  1. v1 deploys; the pre-deploy backup is written; data goes in through the API;
//  2. v2 adds a column (expand) and deploys; its backup is there; data survives;
//  3. an image whose migration fails: `up` fails with the migration's output, a backup was taken
//     first, and no replica was touched (same containers, v2 still answers);
//  4. rollback from the stack history to v1: v1 runs against v2's schema, healthy, data intact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { ensureImages } from "../support/docker-images";
import { deriveApiImage } from "../support/derived-images";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";
import { freePort, projectStack, smallStackConfig } from "../support/project-stack";
import { rollbackTarget } from "../../src/release/history";
import { history, setImages } from "../../src/release/stack";

/**
 * One request on a fresh connection: the verbs below run with execFileSync, which blocks this event loop for longer
 * than the edge keeps an idle keep-alive connection, so a pooled socket could be reused just after the edge closed it.
 */
function get(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? "GET", headers: init.headers, agent: false, timeout: 10_000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within 10 s`)));
    req.on("error", reject);
    req.end(init.body);
  });
}

test("backup → migrate → rollout: ordering, a failing migration touches no replica, expand/contract rollback", { timeout: 1_200_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const base = await ensureImages();
  const suffix = randomBytes(3).toString("hex");
  const v1 = deriveApiImage({ from: base.api, ref: `slipway/api:steps-${suffix}-v1`, version: "v1" });
  const v2 = deriveApiImage({
    from: base.api,
    ref: `slipway/api:steps-${suffix}-v2`,
    version: "v2",
    migration: { name: "1800000000000_items-note", sql: "-- Up Migration\nALTER TABLE items ADD COLUMN note text;\n\n-- Down Migration\nALTER TABLE items DROP COLUMN note;\n" },
  });
  const broken = deriveApiImage({
    from: v2,
    ref: `slipway/api:steps-${suffix}-broken`,
    version: "broken",
    migration: { name: "1900000000000_broken", sql: "-- Up Migration\nALTER TABLE no_such_table ADD COLUMN x int;\n" },
  });
  t.after(() => execFileSync("docker", ["rmi", "-f", v1, v2, broken], { stdio: "ignore" }));

  const backupDir = mkdtempSync(join(tmpdir(), "slipway-steps-backups-"));
  const port = await freePort();
  const name = `steps${suffix}`;
  const ps = await projectStack(name, {
    ...smallStackConfig({ images: { api: v1, edge: base.edge, postgres: base.postgres }, port, replicas: 2 }),
    backup: { enabled: true, dir: backupDir, keep: 10 },
  });
  t.after(async () => {
    await ps.stack.destroy().catch(() => undefined);
    await ps.cleanup();
    rmSync(backupDir, { recursive: true, force: true });
  });
  const edge = `http://127.0.0.1:${port}`;
  const log = (s: string) => process.stderr.write(s);
  const dumps = () => readdirSync(backupDir).filter((f) => f.endsWith(".dump")).sort();
  const deploy = async (image: string) => {
    await setImages(ps.stack, { api: image });
    return ps.stack.up({ onOutput: log, message: `deploy ${image}` });
  };

  // 1. v1
  await deploy(v1);
  assert.equal((await get(`${edge}/health`)).body.version, "v1");
  assert.deepEqual(dumps().map((f) => f.replace(/-\d{8}T\d{6}Z-/, "-T-")), [`${ps.prefix}-T-steps-${suffix}-v1.dump`]);
  assert.equal((await get(`${edge}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "kept" }) })).status, 201);

  // 2. v2 (expand: a nullable column)
  await deploy(v2);
  assert.equal((await get(`${edge}/health`)).body.version, "v2");
  assert.ok(dumps().some((f) => f.endsWith(`-steps-${suffix}-v2.dump`)), "backup taken before v2's migration");
  const v2Containers = (await ps.stack.outputs()).apiContainers!.value as string[];

  // 3. a failing migration: up fails with its output, after the backup, before any replica
  const before = dumps().length;
  await assert.rejects(deploy(broken), (err: Error) => {
    assert.match(err.message, /no_such_table/, "the migration's own error is shown");
    return true;
  });
  assert.equal(dumps().length, before + 1, "the backup ran before the failing migration");
  const running = execFileSync("docker", ["ps", "--filter", `label=slipway.stack=${ps.prefix}`, "--filter", "label=slipway.resource=api", "--format", "{{.Names}}"], { encoding: "utf8" })
    .split("\n").filter(Boolean).sort();
  assert.deepEqual(running, [...v2Containers].sort(), "no replica was touched");
  const h = await get(`${edge}/health`);
  assert.equal(h.status, 200);
  assert.equal(h.body.version, "v2", "the old version keeps serving");

  // 4. rollback to v1, chosen from the stack history (the failed deploy is not a release)
  const { from, to } = rollbackTarget(name, await history(ps.stack));
  assert.equal(from.images.api, v2);
  assert.equal(to.images.api, v1);
  await setImages(ps.stack, to.images);
  const rb = await ps.stack.up({ onOutput: log, message: `rollback to ${v1}` });
  assert.equal(rb.summary.result, "succeeded");
  const after = await get(`${edge}/health`);
  assert.equal(after.status, 200);
  assert.equal(after.body.version, "v1");
  assert.equal(after.body.checks.db, "ok");
  const items = await get(`${edge}/items`);
  assert.ok(items.body.some((i: { name: string }) => i.name === "kept"), "data intact after rollback");
  assert.equal((await get(`${edge}/items`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "after-rollback" }) })).status, 201, "v1 writes against v2's schema");

  // 5. the operator verbs find the database from the stack's outputs and config: backup, lose data, restore.
  const verb = (args: string[]) =>
    execFileSync(process.execPath, ["--import", "tsx", ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir },
    }).trim();
  const file = verb(["src/cli/backup.ts", "--stack", name]);
  assert.ok(file.startsWith(join(backupDir, `${ps.prefix}-`)) && file.endsWith(".dump"), `backup by stack name: ${file}`);
  execFileSync("docker", ["exec", `${ps.prefix}-db`, "psql", "-U", "app", "-d", "app", "-c", "DELETE FROM items"]);
  assert.deepEqual((await get(`${edge}/items`)).body, []);
  verb(["src/cli/restore.ts", "--stack", name, "--file", file, "--yes"]);
  const restored = (await get(`${edge}/items`)).body.map((i: { name: string }) => i.name).sort();
  assert.deepEqual(restored, ["after-rollback", "kept"]);
});
