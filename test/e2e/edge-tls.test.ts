// TLS at the edge on a real stack: certificate and key as Pulumi secrets (never plaintext in the state), the PEM
// inside the edge readable by the haproxy user only (0600, before and after a renewal), HTTPS
// served with them, plain HTTP redirected, and a renewed certificate applied by a reload under load with zero
// failed requests (new connections get the new certificate, the HAProxy container stays the same).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testImages } from "../support/docker-images";
import { startLoad } from "../support/load";
import { engineAvailable, pulumiCli } from "../support/pulumi";
import { freePort, projectStack, smallStackConfig } from "../support/project-stack";
import { certificate, httpsGet } from "../support/tls";

function httpGet(url: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: res.headers.location });
    }).on("error", reject).end();
  });
}

test("TLS: secrets in, HTTPS served, HTTP redirected, certificate renewed under load without a failed request", { timeout: 20 * 60_000 }, async (t) => {
  assert.ok(engineAvailable(), "the Pulumi toolchain is missing: run `bash tools/toolchain.sh` first");
  const images = await testImages();
  const dir = mkdtempSync(join(tmpdir(), "slipway-tls-"));
  const first = certificate(dir, "first");
  const second = certificate(dir, "second");
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const name = `tl${randomBytes(3).toString("hex")}`;
  const base = smallStackConfig({ images: { api: images.api, edge: images.edge, postgres: images.postgres }, port: httpPort, replicas: 2 });
  const ps = await projectStack(name, { ...base, edge: { ...(base.edge as object), tls: { enabled: true, port: httpsPort } } });
  t.after(async () => {
    await ps.stack.destroy().catch(() => undefined);
    await ps.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const setCertificate = async (c: { cert: string; key: string }) => {
    await ps.stack.setConfig("slipway:tlsCertificate", { value: c.cert, secret: true });
    await ps.stack.setConfig("slipway:tlsKey", { value: c.key, secret: true });
  };
  await setCertificate(first);
  const up = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  assert.equal(up.summary.result, "succeeded");
  const url = up.outputs.edgeUrl!.value as string;
  assert.equal(url, `https://127.0.0.1:${httpsPort}`);
  await ps.stack.preview({ expectNoChanges: true });

  const ok = await httpsGet(`${url}/health`, first.cert);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers["strict-transport-security"], undefined, "HSTS only in production");
  const redirect = await httpGet(`http://127.0.0.1:${httpPort}/slow?ms=1`);
  assert.equal(redirect.status, 308);
  assert.equal(redirect.location, `https://127.0.0.1:${httpsPort}/slow?ms=1`);

  // Never plaintext in the state.
  const state = await pulumiCli(ps, ["stack", "export"]);
  assert.ok(!state.includes("PRIVATE KEY"), "the key is not in the state in plain text");

  // The key inside the edge: the haproxy user's alone.
  const edge = up.outputs.edgeContainer!.value as string;
  const pemMode = () => execFileSync("docker", ["exec", edge, "stat", "-c", "%a %U", "/usr/local/etc/haproxy/tls.pem"], { encoding: "utf8" }).trim();
  assert.equal(pemMode(), "600 haproxy", "the PEM is mode 0600, owned by haproxy");

  // Renewal under load: a reload, zero failed requests, new connections see the new certificate.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // the load client accepts both test certificates (loopback only)
  t.after(() => delete process.env.NODE_TLS_REJECT_UNAUTHORIZED);
  const load = startLoad({ url, connections: 20, maxSeconds: 300, slowShare: 0.1, slowMs: 1000, fastMs: 50 });
  t.after(() => load.stop()); // a failed assertion must not leave the load running
  await new Promise((r) => setTimeout(r, 2000));
  await setCertificate(second);
  const up2 = await ps.stack.up({ onOutput: (s) => process.stderr.write(s) });
  await new Promise((r) => setTimeout(r, 2000));
  const report = await load.stop();
  assert.equal(up2.summary.result, "succeeded");
  assert.equal(up2.outputs.edgeContainer!.value, edge, "the same HAProxy container, reloaded");
  console.log(`[tls renewal] ${report.requests} requests, ${report.failed} failed, non-2xx ${JSON.stringify(report.non2xx)}, errors ${JSON.stringify(report.errors)}`);
  assert.ok(report.requests > 100, "the load ran");
  assert.equal(report.failed, 0, "no failed request during the renewal");
  assert.deepEqual(report.errors, {});
  const renewed = await httpsGet(`${url}/health`, second.cert);
  assert.equal(renewed.status, 200);
  assert.notEqual(renewed.serial, ok.serial, "new connections get the new certificate");
  assert.equal(pemMode(), "600 haproxy", "the renewed PEM is mode 0600, owned by haproxy");
  await ps.stack.preview({ expectNoChanges: true });
});
