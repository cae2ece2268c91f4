// What a rollback writes (exactly the release's slipway:images.api and slipway:api; the edge image only with
// --with-edge; the database image never), its record in the update message, the refusals, --list, and the
// verb itself on a stand-in stack and Docker engine: nothing is written before every check has passed, and a
// locked stack leaves the stack file as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import type { Stack } from "@pulumi/pulumi/automation";
import {
  configChanges,
  formatHistory,
  imageRefusal,
  isLockedError,
  lockedMessage,
  parseMessage,
  promoteMessage,
  restorePlan,
  rollbackTarget,
  updates,
  type HistoryEntry,
} from "../../src/release/history";
import { rollback } from "../../src/release/rollback";

const ID1 = `sha256:${"1".repeat(64)}`;
const ID2 = `sha256:${"2".repeat(64)}`;

let clock = Date.parse("2026-11-01T00:00:00Z");
function entry(o: { api: string; edge?: string; apiConfig?: unknown; apiSecret?: boolean; message?: string; result?: string }): HistoryEntry {
  clock += 60_000;
  const images = { api: o.api, edge: o.edge ?? "edge:1", postgres: "pg:17" };
  const apiConfig = o.apiConfig ?? { replicas: 2 };
  return {
    kind: "update",
    result: o.result ?? "succeeded",
    startTime: new Date(clock).toISOString(),
    message: o.message ?? promoteMessage(o.api),
    config: {
      "slipway:images": { value: JSON.stringify(images), objectValue: images, secret: false },
      "slipway:api": o.apiSecret ? { secret: true } : { value: JSON.stringify(apiConfig), objectValue: apiConfig, secret: false },
    },
  };
}
const newestFirst = (...e: HistoryEntry[]) => e.reverse();

const v1Api = { replicas: 2, port: 3000, limits: { memoryMb: 256, cpus: 0.5 }, env: { LOG_LEVEL: "info" }, volumes: [{ source: "up", target: "/srv", readOnly: false }], healthcheck: { path: "/up" }, rollout: { drainTimeoutMs: 10000 }, restartPolicy: "always" };
const v3Api = { ...v1Api, replicas: 3, env: { LOG_LEVEL: "info", FEATURE: "broken" } };

test("the plan restores slipway:images.api and the whole slipway:api as the release had them; never postgres; edge only when asked", () => {
  const h = newestFirst(entry({ api: "app:v1", apiConfig: v1Api, message: promoteMessage("app:v1", ID1) }), entry({ api: "app:v3", edge: "edge:2", apiConfig: v3Api }));
  const { from, to } = rollbackTarget("production", h);
  const plan = restorePlan("production", from, to);
  assert.equal(plan.apiImage, "app:v1");
  assert.deepEqual(plan.api, { value: JSON.stringify(v1Api), objectValue: v1Api, secret: false });
  assert.equal(plan.edgeImage, undefined, "the edge is not restored unless asked");
  assert.ok(!("postgresImage" in plan) && !JSON.stringify(plan).includes("pg:17"), "the database image is never part of a rollback");
  assert.deepEqual(plan.changes, [
    "images.api: app:v3 → app:v1",
    'api.env.FEATURE: "broken" → (unset)',
    "api.replicas: 3 → 2",
  ]);
  const withEdge = restorePlan("production", from, to, { withEdge: true });
  assert.equal(withEdge.edgeImage, "edge:1");
  assert.ok(withEdge.changes.includes("images.edge: edge:2 → edge:1"));
});

test("the update message records the position and image (with its ID) and the reason, and reads back", () => {
  const h = newestFirst(entry({ api: "app:v1", message: promoteMessage("app:v1", ID1) }), entry({ api: "app:v2" }));
  const { from, to } = rollbackTarget("staging", h);
  const plan = restorePlan("staging", from, to, { reason: "  checkout\n fails  ", withEdge: true });
  assert.equal(plan.message, `rollback to #1 app:v1 (image ${ID1}) + edge edge:1 — checkout fails`);
  assert.deepEqual(parseMessage(plan.message), { restored: 1, apiImageId: ID1 });
  assert.deepEqual(parseMessage(promoteMessage("app:v2", ID2)), { apiImageId: ID2 });
  assert.deepEqual(parseMessage("promote app:v2"), {});
  assert.deepEqual(parseMessage("deploy by hand: rollback to #1 someday"), {}, "only a message that starts with it is a rollback");
  assert.equal(restorePlan("staging", from, to, { imageId: ID2 }).message, `rollback to #1 app:v1 (image ${ID2})`, "the ID seen on the host wins");
});

test("a release whose slipway:api held secrets cannot be restored as it was", () => {
  const h = newestFirst(entry({ api: "app:v1", apiSecret: true }), entry({ api: "app:v2" }));
  const { from, to } = rollbackTarget("staging", h);
  assert.throws(() => restorePlan("staging", from, to), /#1 of stack "staging" recorded slipway:api with secret values.*secretEnv/);
});

test("configChanges: leaves added, removed, changed; arrays by index", () => {
  assert.deepEqual(configChanges("api", { a: 1, v: [{ s: "x" }], e: {} }, { a: 2, v: [{ s: "y" }, { s: "z" }], n: "new" }), [
    "api.a: 1 → 2",
    "api.e: {} → (unset)",
    "api.n: (unset) → \"new\"",
    'api.v[0].s: "x" → "y"',
    'api.v[1].s: (unset) → "z"',
  ]);
  assert.deepEqual(configChanges("api", v1Api, structuredClone(v1Api)), []);
});

test("image refusals: missing on the host, a tag that moved; none when the recorded ID matches or none was recorded", () => {
  assert.match(imageRefusal("production", "API", "app:v1", "ssh://deploy@db1", undefined)!, /the API image app:v1 is not on the Docker host of stack "production" \(ssh:\/\/deploy@db1\); nothing was changed\. Load or pull it there first/);
  assert.match(imageRefusal("production", "API", "app:latest", "the local Docker engine", { id: ID2 }, ID1)!, /is now image sha256:2222.*but the release ran sha256:1111.*tag has moved.*docker tag sha256:1{64} app:latest/);
  assert.equal(imageRefusal("production", "API", "app:v1", "h", { id: ID1 }, ID1), undefined);
  assert.equal(imageRefusal("production", "API", "app:v1", "h", { id: ID1 }), undefined);
});

test("a locked stack: Pulumi's messages are recognised; the refusal says how to check and what to run", () => {
  const pulumi = "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///s/.pulumi/locks/organization/slipway/production/x.json: created by ci@build (pid 42) at 2026-11-01T00:00:00Z";
  assert.ok(isLockedError(pulumi));
  assert.ok(isLockedError("[409] Conflict: Another update is currently in progress."));
  assert.ok(!isLockedError("error: update failed"));
  const m = lockedMessage("production", `code: 255\n stdout: ${pulumi}\n stderr: ${pulumi}`);
  assert.equal(m.match(/created by/g)?.length, 1, "each line of Pulumi's once");
  assert.match(m, /stack "production" is locked: an update is running.*nothing was changed/);
  assert.match(m, /created by ci@build \(pid 42\)/);
  assert.match(m, /pulumi stack --stack production --show-urns/);
  assert.match(m, /pulumi cancel --stack production --yes.*RUNBOOK §6/);
});

test("--list: every update newest first with position, time, outcome, image (short ID) and message; running and target marked", () => {
  const h = newestFirst(
    entry({ api: "app:v1", message: promoteMessage("app:v1", ID1) }),
    entry({ api: "app:v2" }),
    entry({ api: "app:v3", result: "failed" }),
    { ...entry({ api: "app:v2" }), kind: "refresh", message: "" },
  );
  const text = formatHistory("staging", h);
  const lines = text.split("\n");
  assert.equal(lines[0], 'history of stack "staging", newest first:');
  assert.match(lines[1]!, /^#\s+time \(UTC\)\s+outcome\s+API image\s+message$/);
  assert.match(lines[2]!, /^#4\s+2026-\d\d-\d\d \d\d:\d\d:\d\dZ\s+refresh succeeded\s+app:v2\s*$/);
  assert.match(lines[3]!, /^#3\s.*\sfailed\s+app:v3\s+promote app:v3$/);
  assert.match(lines[4]!, /^#2\s.*\ssucceeded\s+app:v2\s+promote app:v2 {3}← running$/);
  assert.match(lines[5]!, new RegExp(`^#1\\s.*\\ssucceeded\\s+app:v1 \\(${"1".repeat(12)}\\)\\s+promote app:v1 \\(image ${"1".repeat(12)}…\\) {3}← rollback goes here$`));
  assert.equal(formatHistory("staging", []), 'stack "staging" has no updates in its history');
  assert.equal(updates(h).length, 4);
});

// ---- the verb on stand-ins -------------------------------------------------------------------------------

interface Call { op: string; key?: string; value?: string }

const CURRENT_IMAGES = { api: "app:v2", edge: "edge:2", postgres: "postgres:17" };
/** What setImages writes: slipway:images as one object, the others kept. */
const imagesWrite = (images: Record<string, string>) => {
  const merged = { ...CURRENT_IMAGES, ...images };
  return { op: "set-all --json", value: JSON.stringify({ "slipway:images": { value: JSON.stringify(merged), objectValue: merged, secret: false } }) };
};

function fakeStack(history: HistoryEntry[], opts: { upError?: Error; dockerHost?: string } = {}) {
  const workDir = mkdtempSync(join(tmpdir(), "slipway-rollback-unit-"));
  const file = join(workDir, "Pulumi.staging.yaml");
  writeFileSync(file, "# the operator's comment\nconfig:\n  slipway:environment: staging\n");
  const calls: Call[] = [];
  const stack = {
    name: "staging",
    workspace: { workDir },
    history: async () => history,
    getConfig: async (key: string) => {
      if (key === "slipway:dockerHost" && opts.dockerHost) return { value: opts.dockerHost, secret: false };
      throw new Error(`config key ${key} not found`);
    },
    // The images the stack holds now, as `pulumi config --json` gives an object: its JSON as the value.
    getAllConfig: async () => ({ "slipway:images": { value: JSON.stringify(CURRENT_IMAGES), secret: false } }),
    setConfig: async (key: string, v: { value: string }, path?: boolean) => {
      calls.push({ op: path ? "set --path" : "set", key, value: v.value });
      writeFileSync(file, `${readFileSync(file, "utf8")}# changed ${key}\n`);
    },
    setAllConfigJson: async (json: string) => {
      calls.push({ op: "set-all --json", value: json });
      writeFileSync(file, `${readFileSync(file, "utf8")}# changed api\n`);
    },
    up: async (o: { message: string }) => {
      calls.push({ op: "up", value: o.message });
      if (opts.upError) throw opts.upError;
      return { outputs: { edgeUrl: { value: "http://127.0.0.1:1", secret: false } }, summary: { result: "succeeded" } };
    },
  };
  return { stack: stack as unknown as Stack, calls, file, cleanup: () => rmSync(workDir, { recursive: true, force: true }) };
}

function fakeDocker(images: Record<string, string>): Docker {
  return {
    getImage: (ref: string) => ({
      inspect: async () => {
        if (!(ref in images)) throw Object.assign(new Error(`no such image: ${ref}`), { statusCode: 404 });
        return { Id: images[ref] };
      },
    }),
  } as unknown as Docker;
}

const threeReleases = () =>
  newestFirst(
    entry({ api: "app:v1", apiConfig: v1Api, message: promoteMessage("app:v1", ID1) }),
    entry({ api: "app:v2", apiConfig: v1Api, message: promoteMessage("app:v2", ID2) }),
    entry({ api: "app:v2", apiConfig: v3Api, message: "config: replicas 3, FEATURE" }),
  );

test("the verb writes images.api (the other images kept) and slipway:api (object) and runs up with the record; nothing else", async (t) => {
  const f = fakeStack(threeReleases());
  t.after(f.cleanup);
  const r = await rollback(f.stack, { reason: "FEATURE breaks checkout", docker: fakeDocker({ "app:v2": ID2 }) });
  assert.equal(r.to.position, 2);
  assert.deepEqual(f.calls, [
    imagesWrite({ api: "app:v2" }),
    { op: "set-all --json", value: JSON.stringify({ "slipway:api": { value: JSON.stringify(v1Api), objectValue: v1Api, secret: false } }) },
    { op: "up", value: `rollback to #2 app:v2 (image ${ID2}) — FEATURE breaks checkout` },
  ]);
  assert.equal(r.outputs?.edgeUrl, "http://127.0.0.1:1");
});

test("the verb with --with-edge also writes images.edge, after checking the edge image is on the host", async (t) => {
  const h = newestFirst(entry({ api: "app:v1", edge: "edge:1" }), entry({ api: "app:v2", edge: "edge:2" }));
  const f = fakeStack(h);
  t.after(f.cleanup);
  await assert.rejects(rollback(f.stack, { withEdge: true, docker: fakeDocker({ "app:v1": ID1 }) }), /the edge image edge:1 is not on the Docker host/);
  assert.equal(f.calls.length, 0, "nothing written");
  await rollback(f.stack, { withEdge: true, docker: fakeDocker({ "app:v1": ID1, "edge:1": ID2 }) });
  assert.deepEqual(f.calls[0], imagesWrite({ api: "app:v1", edge: "edge:1" }));
  assert.deepEqual(f.calls.map((c) => c.op), ["set-all --json", "set-all --json", "up"]);
});

test("refusals change nothing: no earlier release, image not on the host, a moved tag; a dry run neither", async (t) => {
  const f = fakeStack(threeReleases(), { dockerHost: "tcp://10.0.0.9:2375" });
  t.after(f.cleanup);
  const before = readFileSync(f.file, "utf8");
  await assert.rejects(rollback(f.stack, { docker: fakeDocker({}) }), /the API image app:v2 is not on the Docker host of stack "staging" \(tcp:\/\/10\.0\.0\.9:2375\)/);
  await assert.rejects(rollback(f.stack, { docker: fakeDocker({ "app:v2": ID1 }) }), /app:v2 on the Docker host .* is now image sha256:1111.*tag has moved/);
  await assert.rejects(rollback(f.stack, { to: 9, docker: fakeDocker({}) }), /no update #9/);
  const dry = await rollback(f.stack, { dryRun: true, to: 1, docker: fakeDocker({ "app:v1": ID1 }) });
  assert.equal(dry.outputs, undefined);
  assert.equal(dry.plan.message, `rollback to #1 app:v1 (image ${ID1})`);
  assert.deepEqual(f.calls, []);
  assert.equal(readFileSync(f.file, "utf8"), before);

  const one = fakeStack(newestFirst(entry({ api: "app:v1" })));
  t.after(one.cleanup);
  await assert.rejects(rollback(one.stack, { docker: fakeDocker({ "app:v1": ID1 }) }), /nothing earlier to roll back to/);
  assert.deepEqual(one.calls, []);
});

test("a locked stack: the refusal names the lock and the stack file is put back byte for byte", async (t) => {
  const locked = new Error("code: 255\n stderr: error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n  file:///x: created by ci@build (pid 7) at 2026-11-01T00:00:00Z");
  const f = fakeStack(threeReleases(), { upError: locked });
  t.after(f.cleanup);
  const before = readFileSync(f.file);
  await assert.rejects(rollback(f.stack, { docker: fakeDocker({ "app:v2": ID2 }) }), /stack "staging" is locked.*nothing was changed[\s\S]*created by ci@build[\s\S]*pulumi cancel/);
  assert.deepEqual(readFileSync(f.file), before);
});

test("a failed rollout is reported as the rollback's failure (not a refusal), the stack file keeps the target", async (t) => {
  const f = fakeStack(threeReleases(), { upError: new Error("replica slipway-staging-api-x failed: unhealthy") });
  t.after(f.cleanup);
  await assert.rejects(rollback(f.stack, { docker: fakeDocker({ "app:v2": ID2 }) }), /the rollback's pulumi up failed \(the stack file now holds #2's app:v2.*unhealthy/);
  assert.match(readFileSync(f.file, "utf8"), /# changed api/);
});
