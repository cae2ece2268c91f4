// Monitoring under the real engine: a small staging-shaped stack with monitoring on. Prometheus is not published
// (queried here through `docker exec … promtool query instant`), finds every API replica through the `api` DNS
// alias and the edge's exporter, sees the requests sent through the edge as a request-rate series, has the alert rules and the stack's
// expected replica count loaded, and a preview right after the up is empty; one more replica gives Prometheus a new
// config (a replaced container under the same name) and it keeps its samples. Backups (verified) push their figures to
// the stack's Pushgateway — the pre-deploy backup of the up and `npm run backup` by stack name — so Prometheus has
// slipway_backup_last_success_timestamp_seconds{stack} and BackupTooOld stays silent; with the Pushgateway stopped,
// the backup still succeeds and says so in one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PUSHGATEWAY_PORT } from "../../src/backup/metrics";
import { ensureImages } from "../support/docker-images";
import { alertRuleCount } from "../support/monitoring";
import { engineAvailable, engineEnv, repoRoot } from "../support/pulumi";
import { freePort, projectStack, smallStackConfig } from "../support/project-stack";

/** Built by tools/images.sh (ensureImages runs it). */
const PROMETHEUS_IMAGE = "slipway-local/prometheus:2";
const PUSHGATEWAY_IMAGE = "slipway-local/pushgateway:1";
const ALERTMANAGER_IMAGE = "slipway-local/alertmanager:0";
const REPLICAS = 2;
const REQUESTS = 30;

const docker = (args: string[]): string => execFileSync("docker", args, { encoding: "utf8", timeout: 60_000 }).trim();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One PromQL instant query inside the Prometheus container; the first sample's value, or undefined. */
function query(container: string, expr: string): number | undefined {
  const out = docker(["exec", container, "promtool", "query", "instant", "-o", "json", "http://127.0.0.1:9090", expr]);
  const samples = JSON.parse(out || "[]") as { value: [number, string] }[];
  return samples.length > 0 ? Number(samples[0].value[1]) : undefined;
}

async function until(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1000);
  }
}

test("monitoring on: unpublished Prometheus scrapes every replica and sees traffic through the edge", { timeout: 900_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await ensureImages();
  const suffix = randomBytes(3).toString("hex");
  const port = await freePort();
  const backupDir = mkdtempSync(join(tmpdir(), "slipway-mon-backups-"));
  const ps = await projectStack(`mon${suffix}`, {
    ...smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, replicas: REPLICAS }),
    monitoring: { enabled: true, image: PROMETHEUS_IMAGE, pushgatewayImage: PUSHGATEWAY_IMAGE, scrapeIntervalSeconds: 1, retentionHours: 1, limits: { memoryMb: 256, cpus: 0.5 } },
    backup: { enabled: true, dir: backupDir, keep: 5, verify: true },
  });
  t.after(async () => {
    await ps.stack.destroy().catch(() => undefined);
    await ps.cleanup();
    rmSync(backupDir, { recursive: true, force: true });
  });
  const log = (s: string) => process.stderr.write(s);

  await ps.stack.up({ onOutput: log });
  const outputs = await ps.stack.outputs();
  const prometheus = outputs.prometheusContainer?.value as string;
  assert.equal(prometheus, `${ps.prefix}-prometheus`);

  // Never published: no port binding on the host, only the edge network.
  assert.deepEqual(JSON.parse(docker(["inspect", "-f", "{{json .HostConfig.PortBindings}}", prometheus])) ?? {}, {});
  assert.deepEqual(Object.keys(JSON.parse(docker(["inspect", "-f", "{{json .NetworkSettings.Networks}}", prometheus]))).sort(), [`${ps.prefix}-edge`, `${ps.prefix}-monitoring`].sort(), "Prometheus: the edge network to scrape, the monitoring network for the Pushgateway and Alertmanager");
  assert.equal(docker(["inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-file\"}}", prometheus]).split(" ")[0], "json-file");
  // The uploaded config and rules are valid for the server that runs them.
  const check = docker(["exec", prometheus, "promtool", "check", "config", "/etc/prometheus/prometheus.yml"]);
  // alerts.yml as the repository has it, every rule loaded.
  const rules = alertRuleCount();
  assert.ok(rules >= 10, `alerts.yml holds ${rules} rules`);
  assert.match(check, new RegExp(`Checking /etc/prometheus/alerts.yml\\n\\s+SUCCESS: ${rules} rules found`));

  await until(`${REPLICAS} api targets up`, 60_000, () => query(prometheus, 'count(up{job="api"} == 1)') === REPLICAS);
  assert.equal(query(prometheus, "slipway:api_expected_replicas"), REPLICAS);

  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/items`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  await until("the requests through the edge counted", 30_000, () =>
    (query(prometheus, 'sum(http_requests_total{job="api",route="/items",status_code="200"})') ?? 0) >= REQUESTS);
  // A rate needs the counter to grow between two scrapes: keep a trickle of requests going meanwhile.
  let trickling = true;
  const trickle = (async () => {
    while (trickling) {
      await fetch(`http://127.0.0.1:${port}/items`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.arrayBuffer(), () => undefined);
      await sleep(100);
    }
  })();
  try {
    await until("a request-rate series", 60_000, () =>
      (query(prometheus, 'sum(rate(http_requests_total{job="api",route="/items"}[1m]))') ?? 0) > 0);
  } finally {
    trickling = false;
    await trickle;
  }
  // Both replicas served some (the edge balances round-robin), each scraped under its own address.
  assert.equal(query(prometheus, 'count(http_requests_total{job="api",route="/items",status_code="200"})'), REPLICAS);
  // Scrapes themselves are not traffic.
  assert.equal(query(prometheus, 'count(http_requests_total{route="/metrics"})'), undefined);
  assert.ok((query(prometheus, 'max(http_request_duration_seconds_count{job="api",route="/items"})') ?? 0) > 0);
  assert.ok((query(prometheus, 'max(db_pool_clients{job="api"})') ?? 0) >= 1, "pool gauges scraped");
  // HAProxy's exporter (`frontend metrics`, in the holder's namespace), with the requests counted at the edge.
  await until("the edge exporter up", 30_000, () => query(prometheus, 'up{job="edge"}') === 1);
  assert.ok((query(prometheus, 'sum(haproxy_frontend_http_responses_total{job="edge",proxy="http",code="2xx"})') ?? 0) >= REQUESTS);

  // The pre-deploy backup of the up pushed its figures; Prometheus scraped them with the labels they were pushed with.
  const pushgateway = outputs.pushgatewayContainer?.value as string;
  assert.equal(pushgateway, `${ps.prefix}-pushgateway`);
  assert.deepEqual(JSON.parse(docker(["inspect", "-f", "{{json .HostConfig.PortBindings}}", pushgateway])) ?? {}, {}, "the Pushgateway is never published");
  assert.deepEqual(Object.keys(JSON.parse(docker(["inspect", "-f", "{{json .NetworkSettings.Networks}}", pushgateway]))), [`${ps.prefix}-monitoring`], "the Pushgateway is on the monitoring network only");
  // No API replica can push a backup timestamp (which would silence BackupTooOld): the Pushgateway is not on its networks.
  const aReplica = (outputs.apiContainers!.value as string[])[0]!;
  const fromReplica = spawnSync("docker", ["exec", aReplica, "node", "-e", `fetch("http://${pushgateway}:${PUSHGATEWAY_PORT}/-/ready").then(() => process.exit(0), (e) => { console.error(String(e.cause ?? e)); process.exit(3); })`], { encoding: "utf8" });
  assert.equal(fromReplica.status, 3, `a replica cannot reach the Pushgateway: ${fromReplica.stdout}${fromReplica.stderr}`);
  assert.match(fromReplica.stderr, /ENOTFOUND|EAI_AGAIN/, "its name does not even resolve there");
  const lastBackup = `slipway_backup_last_success_timestamp_seconds{job="slipway_backup",stack="${ps.prefix}"}`;
  await until("the pre-deploy backup's timestamp in Prometheus", 60_000, () => query(prometheus, lastBackup) !== undefined);
  const first = query(prometheus, lastBackup)!;
  assert.ok(Math.abs(Date.now() / 1000 - first) < 900, `a recent timestamp: ${first}`);
  assert.equal(query(prometheus, `slipway_backup_last_verified{stack="${ps.prefix}"}`), 1, "a verified backup");
  assert.ok((query(prometheus, `slipway_backup_last_size_bytes{stack="${ps.prefix}"}`) ?? 0) > 0);
  // BackupTooOld's own expression is well below its threshold, and the alert is neither pending nor firing.
  assert.ok(query(prometheus, "time() - max by (stack) (slipway_backup_last_success_timestamp_seconds)")! < 26 * 3600);
  assert.equal(query(prometheus, 'ALERTS{alertname="BackupTooOld"}'), undefined);

  // The verb by stack name finds the Pushgateway in the stack's outputs and pushes a newer timestamp.
  const verb = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "src/cli/backup.ts", "--stack", ps.stackName, ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 300_000,
      env: { ...process.env, ...engineEnv(ps.backendDir), SLIPWAY_PROJECT_DIR: ps.workDir },
    });
  await sleep(1100); // a later second than the pre-deploy backup
  const run = verb([]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`metrics: slipway_backup_last_success_timestamp_seconds\\{stack="${ps.prefix}"\\} pushed to ${pushgateway}`));
  await until("the verb's newer timestamp in Prometheus", 60_000, () => (query(prometheus, lastBackup) ?? 0) > first);

  // A stopped Pushgateway: the backup still succeeds, one line says the figures were not pushed.
  docker(["stop", "-t", "5", pushgateway]);
  try {
    const without = verb([]);
    assert.equal(without.status, 0, without.stderr);
    assert.match(without.stdout.trim(), /\.dump$/);
    assert.match(without.stderr, new RegExp(`metrics: not pushed to ${pushgateway} \\(container '${pushgateway}' is not running\\); the backup itself succeeded`));
  } finally {
    docker(["start", pushgateway]);
  }
  await until("the Pushgateway healthy again", 60_000, () => docker(["inspect", "-f", "{{.State.Health.Status}}", pushgateway]) === "healthy");

  await ps.stack.preview({ expectNoChanges: true, onOutput: log });

  // One more replica: a new config for Prometheus (a new container under the same name), the history kept.
  const before = docker(["inspect", "-f", "{{.Id}}", prometheus]);
  await ps.stack.setConfig("slipway:api.replicas", { value: String(REPLICAS + 1) }, true);
  await ps.stack.up({ onOutput: log });
  assert.notEqual(docker(["inspect", "-f", "{{.Id}}", prometheus]), before, "Prometheus replaced with the new config");
  await until(`${REPLICAS + 1} api targets up`, 60_000, () => query(prometheus, 'count(up{job="api"} == 1)') === REPLICAS + 1);
  assert.equal(query(prometheus, "slipway:api_expected_replicas"), REPLICAS + 1);
  assert.ok((query(prometheus, 'max_over_time(sum(http_requests_total{job="api",route="/items"})[10m:5s])') ?? 0) >= REQUESTS, "samples from before the replacement kept");
  // The Pushgateway kept what was pushed (its volume survives the stop/start), and the new Prometheus scrapes it.
  await until("the last backup's timestamp after the replacement", 60_000, () => (query(prometheus, lastBackup) ?? 0) > first);
  await ps.stack.preview({ expectNoChanges: true, onOutput: log });

  // Alerting on: an Alertmanager notifies a receiver this test runs on the host (reached through the monitoring network's
  // gateway), with the stack's bearer token. Short `for:` and group timings (monitoring.alertFor, alerting.*) so
  // that a stopped replica and a stale backup each notify within seconds; the rules themselves are the real ones.
  const notifications: { status: string; alertname: string; auth: string | undefined }[] = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const msg = JSON.parse(body) as { status: string; groupLabels: { alertname: string } };
      notifications.push({ status: msg.status, alertname: msg.groupLabels.alertname, auth: req.headers.authorization });
      log(`[receiver] ${msg.status} ${msg.groupLabels.alertname}\n`);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "0.0.0.0", resolve));
  t.after(() => receiver.close());
  const gateway = docker(["network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", `${ps.prefix}-monitoring`]);
  const token = randomBytes(12).toString("hex");
  await ps.stack.setConfig("slipway:alertWebhookToken", { value: token, secret: true });
  await ps.stack.setConfig("slipway:monitoring.alertFor.ApiReplicasMissing", { value: "3" }, true);
  await ps.stack.setConfig("slipway:monitoring.alertFor.BackupTooOld", { value: "3" }, true);
  const alerting = { enabled: "true", image: ALERTMANAGER_IMAGE, webhookUrl: `http://${gateway}:${(receiver.address() as AddressInfo).port}/alerts`, groupWaitSeconds: "1", groupIntervalSeconds: "5" };
  for (const [key, value] of Object.entries(alerting)) await ps.stack.setConfig(`slipway:monitoring.alerting.${key}`, { value }, true);
  const upAlerting = await ps.stack.up({ onOutput: log });
  assert.ok(!upAlerting.stdout.includes(token), "the token is not in the up's output");
  const alertmanager = (await ps.stack.outputs()).alertmanagerContainer?.value as string;
  assert.equal(alertmanager, `${ps.prefix}-alertmanager`);
  assert.deepEqual(JSON.parse(docker(["inspect", "-f", "{{json .HostConfig.PortBindings}}", alertmanager])) ?? {}, {}, "the Alertmanager is never published");
  assert.ok(!docker(["inspect", alertmanager]).includes(token), "the token is not in docker inspect");
  assert.match(docker(["exec", alertmanager, "amtool", "check-config", "/etc/alertmanager/alertmanager.yml"]), /SUCCESS/);
  await ps.stack.preview({ expectNoChanges: true, onOutput: log });
  await until("Prometheus sends to the Alertmanager", 60_000, () => query(prometheus, "prometheus_notifications_alertmanagers_discovered") === 1);
  assert.equal(notifications.length, 0, `nothing to notify on a healthy stack: ${JSON.stringify(notifications)}`);

  const firing = (alertname: string) => notifications.filter((n) => n.alertname === alertname && n.status === "firing");
  /** `firing` notifications of the alert that follow another `firing` of it with no `resolved` between: repeats. */
  const repeats = (alertname: string) =>
    notifications.filter((n) => n.alertname === alertname).filter((n, i, all) => i > 0 && n.status === "firing" && all[i - 1]!.status === "firing").length;
  const replica = ((await ps.stack.outputs()).apiContainers?.value as string[])[0];
  docker(["stop", "-t", "5", replica]);
  try {
    await until("a firing ApiReplicasMissing notification", 120_000, () => firing("ApiReplicasMissing").length > 0);
  } finally {
    docker(["start", replica]);
  }
  await until("ApiReplicasMissing resolved", 120_000, () => notifications.some((n) => n.alertname === "ApiReplicasMissing" && n.status === "resolved"));
  // Sent once while it fires: a second `firing` only after a `resolved` (under load, with `for:` a few seconds, a
  // scrape that times out while the replica starts again is a new episode of the alert, not a repeat).
  assert.equal(repeats("ApiReplicasMissing"), 0, `the stopped replica notified once per episode: ${JSON.stringify(notifications)}`);

  // A stale backup: the last success 27 h ago, as the backup verb would have pushed it then.
  const stale = Math.floor(Date.now() / 1000) - 27 * 3600;
  docker(["exec", pushgateway, "wget", "-q", "-O", "-", "--post-data", `slipway_backup_last_success_timestamp_seconds ${stale}\n`,
    `http://127.0.0.1:9091/metrics/job/slipway_backup/stack/${ps.prefix}`]);
  await until("a firing BackupTooOld notification", 120_000, () => firing("BackupTooOld").length > 0);
  await sleep(15_000); // three group intervals: a still-firing alert is not sent again before repeat_interval
  assert.equal(firing("BackupTooOld").length, 1, `one notification for the stale backup: ${JSON.stringify(notifications)}`);
  assert.equal(repeats("ApiReplicasMissing"), 0, `no repeat of ApiReplicasMissing: ${JSON.stringify(notifications)}`);
  assert.ok(notifications.every((n) => n.auth === `Bearer ${token}`), "every notification carries the stack's token");
});
