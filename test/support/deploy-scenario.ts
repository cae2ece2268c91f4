// The deploys an operator runs on a production-shaped stack, each under load through the edge (POSTs that write
// rows with unique names, 300 ms and 3 s GETs), measured the same way for the zero-downtime test and for
// `npm run bench:deploy`: requests failed by kind and by route, rows written vs 2xx POSTs, rows written twice,
// latency, and the wall time of the deploy. A step that fails is recorded with its error, never thrown.
// With `tls`, the stack's edge serves HTTPS (the certificate and key as the stack's Pulumi secrets) and the load goes
// over HTTPS; plain HTTP on the edge port then only redirects.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import type { Stack } from "@pulumi/pulumi/automation";
import { edgeErrorLines } from "./edge-log";
import { connectDocker, execText } from "../../src/docker";
import { ImageRefs } from "./docker-images";
import { HEALTHCHECK_TIMEOUT_MS } from "./edge";
import { deriveApiImage } from "./derived-images";
import { countRows, type LoadOptions, LoadReport, RowCheck, startLoad } from "./load";
import { freePort, ProjectStack, projectStack } from "./project-stack";
import { pulumiCli } from "./pulumi";
import type { Environment } from "../../stacks/schema";

export interface StepFigures {
  step: string;
  /** Set when the deploy itself failed (expected for a broken image). */
  error?: string;
  requests: number;
  ok: number;
  failed: number;
  non2xx: Record<string, number>;
  errors: Record<string, number>;
  byRoute: Record<string, Record<string, number>>;
  rows: RowCheck;
  p50Ms: number;
  p99Ms: number;
  deployS: number;
  /** `pulumi preview --expect-no-changes` right after the step: "" when clean, else its complaint. */
  perpetualDiff: string;
}

export interface LoadShape {
  connections: number;
  /** Seconds of load before the deploy starts and after it ends. */
  settleS: number;
}

/** The config of a production-shaped stack: 3 replicas, backups on, integer and fractional cpus, every optional setting in use. */
export function productionShape(opts: { images: { api: string; edge: string; postgres: string }; port: number; backupDir: string; volume: string; tlsPort?: number; environment?: Environment }): Record<string, unknown> {
  return {
    environment: opts.environment ?? "production",
    images: opts.images,
    api: {
      replicas: 3,
      port: 3000,
      limits: { memoryMb: 256, cpus: 0.5 },
      restartPolicy: "unless-stopped",
      env: { LOG_LEVEL: "info", SHUTDOWN_DELAY_MS: "1000" },
      volumes: [{ source: opts.volume, target: "/srv/uploads", readOnly: false }],
      healthcheck: { path: "/up", intervalMs: 1000, timeoutMs: HEALTHCHECK_TIMEOUT_MS, retries: 5, startPeriodMs: 10000 },
      rollout: { healthTimeoutMs: 120000, edgeUpTimeoutMs: 30000, drainTimeoutMs: 30000, stopGraceSeconds: 10 },
    },
    edge: {
      port: opts.port, bindAddress: "127.0.0.1", limits: { memoryMb: 128, cpus: 1 }, restartPolicy: "unless-stopped", slots: 10,
      ...(opts.tlsPort ? { tls: { enabled: true, port: opts.tlsPort } } : {}),
    },
    database: { name: "app", user: "app", limits: { memoryMb: 512, cpus: 1 }, restartPolicy: "unless-stopped" },
    backup: { enabled: true, dir: opts.backupDir, keep: 3 },
  };
}

export interface Scenario {
  ps: ProjectStack;
  url: string;
  dbContainer: string;
  /** A new API image (APP_VERSION=v<n>), built from the base image. */
  apiImage(version: string): string;
  /** An edge image that differs from the base one (another image ID). */
  edgeImage(suffix: string): string;
  /** Runs `deploy` under load and measures it. */
  measure(step: string, load: LoadShape, deploy: () => Promise<unknown>): Promise<StepFigures>;
  up(message: string): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * A self-signed certificate for 127.0.0.1 made with openssl (Debian's package on every machine here), as PEM text:
 * what a stack's `tlsCertificate` / `tlsKey` secrets hold.
 */
export function selfSignedCertificate(name: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), `slipway-${name}-tls-`));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
      "-days", "2", "-subj", `/CN=slipway-${name}`, "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: ["ignore", "ignore", "pipe"] });
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ScenarioOptions {
  /**
   * The same shape as staging (default production): what differs is the environment's defaults — staging takes its
   * pre-deploy backup unverified (BACKUP_VERIFY_DEFAULT) and protects nothing.
   */
  environment?: Environment;
  /** HTTPS at the edge with this certificate and key (set as the stack's Pulumi secrets); the load goes over HTTPS. */
  tls?: { cert: string; key: string };
}

/** Brings up a production-shaped stack of the real program with `pulumi up` (the file backend) and returns the scenario. */
export async function startScenario(name: string, images: ImageRefs, log: (s: string) => void = (s) => process.stderr.write(s), options: ScenarioOptions = {}): Promise<Scenario> {
  const docker = connectDocker();
  const built: string[] = [];
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const backupDir = mkdtempSync(join(tmpdir(), `slipway-${name}-backups-`));
  const volume = `slipway-${name}-uploads`;
  const ps = await projectStack(name, productionShape({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port, backupDir, volume, ...(tlsPort ? { tlsPort } : {}), ...(options.environment ? { environment: options.environment } : {}) }));
  if (options.tls) {
    await ps.stack.setConfig("slipway:tlsCertificate", { value: options.tls.cert, secret: true });
    await ps.stack.setConfig("slipway:tlsKey", { value: options.tls.key, secret: true });
  }
  // autocannon does not verify the server's certificate (it connects with rejectUnauthorized: false): loopback only.
  const url = tlsPort ? `https://127.0.0.1:${tlsPort}` : `http://127.0.0.1:${port}`;
  const dbContainer = `${ps.prefix}-db`;
  const sql = (query: string) => execText(docker, dbContainer, ["psql", "-U", "app", "-d", "app", "-Atc", query], undefined, 30_000);

  const up = async (message: string) => {
    const result = await ps.stack.up({ message, onOutput: log, color: "never" });
    if (result.summary.result !== "succeeded") throw new Error(`pulumi up: ${result.summary.result}`);
  };

  const cleanup = async () => {
    // Production protects the database and the edge holder: a test stack is let go deliberately, as the RUNBOOK says.
    await pulumiCli(ps, ["state", "unprotect", "--all", "--yes"]).catch((e: Error) => log(`unprotect: ${e.message}\n`));
    await ps.stack.destroy({ color: "never" }).catch((e: Error) => log(`destroy: ${e.message}\n`));
    await docker.getVolume(`${ps.prefix}-pgdata`).remove().catch(() => undefined);
    await docker.getVolume(volume).remove().catch(() => undefined);
    for (const ref of built) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
    await ps.cleanup();
    rmSync(backupDir, { recursive: true, force: true });
  };

  // A stack whose first up failed is let go too: the caller only gets the error.
  await up("initial").catch(async (e: unknown) => {
    await cleanup();
    throw e;
  });
  return {
    ps,
    url,
    dbContainer,
    apiImage(version) {
      const ref = `${images.api}-${name}-${version}`;
      built.push(deriveApiImage({ from: images.api, ref, version }));
      return ref;
    },
    edgeImage(suffix) {
      const ref = `${images.edge}-${name}-${suffix}`;
      execFileSync("docker", ["build", "-q", "-t", ref, "-"], { input: `FROM ${images.edge}\nLABEL slipway.test-variant=${suffix}\n`, stdio: ["pipe", "ignore", "inherit"] });
      built.push(ref);
      return ref;
    },
    up,
    measure: (step, load, deploy) =>
      measureUnderLoad({
        step, deploy, sql, stack: ps.stack, settleS: load.settleS,
        load: { url, connections: load.connections, maxSeconds: 900, mix: "items", postShare: 0.5, slowShare: 0.1, slowMs: 3000, fastMs: 300 },
        // The edge's own record of what failed (replica 5xx vs no server vs refused), while the stack still runs.
        onFailed: async () => log(`${step}: ${await edgeErrorLines(docker, ps.prefix)}\n`),
      }),
    cleanup,
  };
}

/** "" when `pulumi preview --expect-no-changes` passes right after a step, else the lines saying what it would change. */
export async function previewComplaint(stack: Stack): Promise<string> {
  try {
    await stack.preview({ expectNoChanges: true, color: "never" });
    return "";
  } catch (e) {
    return (e as Error).message.split("\n").filter((l) => /^\s+[~+-]|replace|update|create|delete/.test(l)).slice(0, 20).join("\n") || (e as Error).message.slice(-2000);
  }
}

/**
 * `deploy` measured under `load` (started `settleS` before it, stopped `settleS` after it): requests by kind and route,
 * rows written (counted with `sql`), latency, the deploy's wall time, the preview right after. A failed deploy is in
 * the figures (`error`), not thrown. `onFailed` runs when requests failed, while the stack still runs.
 */
export async function measureUnderLoad(opts: {
  step: string;
  load: LoadOptions;
  settleS: number;
  deploy: () => Promise<unknown>;
  sql: (query: string) => Promise<string>;
  stack: Stack;
  onFailed?: () => Promise<void>;
}): Promise<StepFigures> {
  const running = startLoad(opts.load);
  await new Promise((r) => setTimeout(r, opts.settleS * 1000));
  const start = Date.now();
  let error: string | undefined;
  try {
    await opts.deploy();
  } catch (e) {
    error = (e as Error).message.slice(-3000);
  }
  const deployS = (Date.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, opts.settleS * 1000));
  const report: LoadReport = await running.stop();
  if (report.failed > 0) await opts.onFailed?.();
  const rows = await countRows(report, running.idPrefix, opts.sql);
  return {
    step: opts.step, ...(error ? { error } : {}),
    requests: report.requests, ok: report.ok, failed: report.failed, non2xx: report.non2xx, errors: report.errors, byRoute: report.byRoute,
    rows, p50Ms: report.latencyP50Ms, p99Ms: report.latencyP99Ms, deployS, perpetualDiff: await previewComplaint(opts.stack),
  };
}

/** A routine deploy's promise: it succeeded, no request failed, no row lost or written twice, and (unless told otherwise) the preview after it is empty. */
export function assertZeroDowntime(f: StepFigures, opts: { previewEmpty?: boolean } = {}): void {
  assert.equal(f.error, undefined, `${f.step}: the deploy failed`);
  assert.equal(f.failed, 0, `${f.step}: failed requests`);
  assert.deepEqual(f.errors, {}, `${f.step}: connection errors`);
  assert.ok(f.rows.postsOk > 0, `${f.step}: the load wrote rows`);
  assert.equal(f.rows.lost, 0, `${f.step}: answered 2xx but no row`);
  assert.equal(f.rows.rowsTwice, 0, `${f.step}: rows written twice`);
  if (opts.previewEmpty ?? true) assert.equal(f.perpetualDiff, "", `${f.step}: preview right after the up is not empty`);
}

/** One line per step for logs and the benchmark table. */
export function describeStep(f: StepFigures): string {
  return (
    `${f.step}: ${f.requests} requests, ${f.failed} failed (non-2xx ${JSON.stringify(f.non2xx)}, errors ${JSON.stringify(f.errors)}), ` +
    `by route ${JSON.stringify(f.byRoute)}, rows ${f.rows.rows} for ${f.rows.postsOk} 2xx POSTs (twice ${f.rows.rowsTwice}, lost ${f.rows.lost}), ` +
    `p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, deploy ${f.deployS.toFixed(1)} s${f.error ? `, deploy FAILED: ${f.error.split("\n")[0]}` : ""}` +
    `${f.perpetualDiff ? `, PREVIEW NOT EMPTY:\n${f.perpetualDiff}` : ""}`
  );
}

export async function restartDatabase(scenario: Scenario): Promise<void> {
  await connectDocker().getContainer(scenario.dbContainer).restart({ t: 5 });
}

export type { Stack };
