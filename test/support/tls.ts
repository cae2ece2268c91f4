// Certificates and HTTPS requests for the edge's TLS tests (one host and swarm): a self-signed certificate made with
// openssl (from Debian's package on every machine here), and a GET that reports the certificate the edge presented.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";

/** A self-signed certificate (P-256) for the addresses `ips`, written to `dir` and returned as PEM text. */
export function certificate(dir: string, name: string, ips: string[] = ["127.0.0.1"]): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
    "-subj", `/CN=slipway-test-${name}`, "-addext", `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}`], { stdio: "ignore" });
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

/** GET `url` trusting `ca` only (a fresh connection): the status, the presented certificate's serial, the headers. */
export function httpsGet(url: string, ca: string): Promise<{ status: number; serial: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 10_000 }, (res) => {
      const serial = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().serialNumber;
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, serial, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}
