// Benchmark of the edge's cost: requests/s and latency through the edge of one real stack (`pulumi up`, two
// replicas, PostgreSQL), in the same run: plain HTTP; HTTPS (TLS 1.3 with a self-signed certificate; new
// connections are part of the cost: the load keeps them alive); HTTP with rate limiting on (a limit high enough never
// to trigger, so the figure is the stick table's bookkeeping, not refusals). Same load each time: N keep-alive
// connections of `GET /slow?ms=0` for S seconds. Figures, no verdicts; a failed step is reported.
// JSON to bench/results/edge-<time>.json.
//   npm run bench:edge [-- --connections 50 --seconds 20]
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { testImages } from "../test/support/docker-images";
import { freePort, projectStack, smallStackConfig } from "../test/support/project-stack";

interface Row {
  variant: string;
  requestsPerS?: number;
  p50Ms?: number;
  p99Ms?: number;
  non2xx?: number;
  errors?: number;
  failure?: string;
}

// autocannon ships no types; the part used here.
type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }>;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { connections: { type: "string", default: "50" }, seconds: { type: "string", default: "20" } } });
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  const autocannon = require("autocannon") as Autocannon;
  const images = await testImages();
  const dir = mkdtempSync(path.join(tmpdir(), "slipway-bench-edge-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path.join(dir, "k"), "-out", path.join(dir, "c"),
    "-days", "2", "-subj", "/CN=slipway-bench", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const base = smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port: httpPort, replicas: 2 });
  // One stack for all variants, changed between them by config (plain HTTP first: TLS redirects plain HTTP).
  const ps = await projectStack(`be${randomBytes(3).toString("hex")}`, base);
  const rows: Row[] = [];
  const measure = async (variant: string, url: string) => {
    try {
      const r = await autocannon({ url: `${url}/slow?ms=0`, connections, duration: seconds });
      rows.push({ variant, requestsPerS: Math.round(r.requests.average), p50Ms: r.latency.p50, p99Ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors });
      console.log(`${variant}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
    } catch (e) {
      rows.push({ variant, failure: (e as Error).message });
    }
  };
  const up = async (what: string) => {
    const res = await ps.stack.up({ color: "never" });
    if (res.summary.result !== "succeeded") throw new Error(`pulumi up (${what}): ${res.summary.result}`);
  };
  try {
    await up("plain HTTP");
    await measure("http", `http://127.0.0.1:${httpPort}`);
    await ps.stack.setConfig("slipway:edge.rateLimit.requestsPer10s", { value: "100000000" }, true);
    await up("rate limiting");
    await measure("http + rate limiting (never triggered)", `http://127.0.0.1:${httpPort}`);
    await ps.stack.setConfig("slipway:edge.rateLimit.requestsPer10s", { value: "0" }, true);
    await ps.stack.setConfig("slipway:tlsCertificate", { value: readFileSync(path.join(dir, "c"), "utf8"), secret: true });
    await ps.stack.setConfig("slipway:tlsKey", { value: readFileSync(path.join(dir, "k"), "utf8"), secret: true });
    await ps.stack.setConfig("slipway:edge.tls.enabled", { value: "true" }, true);
    await ps.stack.setConfig("slipway:edge.tls.port", { value: String(httpsPort) }, true);
    await up("TLS");
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the self-signed bench certificate, loopback only
    await measure("https (TLS 1.3)", `https://127.0.0.1:${httpsPort}`);
  } catch (e) {
    rows.push({ variant: "setup", failure: (e as Error).message.slice(-2000) });
  } finally {
    await ps.stack.destroy({ color: "never" }).catch((e: Error) => console.error(`destroy: ${e.message}`));
    await ps.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${connections} keep-alive connections, GET /slow?ms=0 for ${seconds} s each, through the edge of one stack (2 replicas).\n`);
  for (const r of rows) {
    console.log(r.failure ? `${r.variant.padEnd(40)} FAILED: ${r.failure.split("\n")[0]}` : `${r.variant.padEnd(40)} ${String(r.requestsPerS).padStart(6)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
  }
  const out = path.join(__dirname, "results");
  await mkdir(out, { recursive: true });
  const file = path.join(out, `edge-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, JSON.stringify({ images, connections, seconds, results: rows }, null, 2));
  console.log(`\nwritten: ${path.relative(process.cwd(), file)}`);
}

main().catch((e: Error) => {
  console.error(`bench:edge failed: ${e.message}${process.env.SLIPWAY_DEBUG ? `\n${e.stack}` : " (SLIPWAY_DEBUG=1 for the stack)"}`);
  process.exit(1);
});
