// The edge's production features as rendered into haproxy.cfg (request ids and JSON access logs, maintenance,
// rate limiting, CORS, security headers), the maintenance map helpers, and the verb's positional argument.
// That HAProxy accepts these configs and behaves so is proven by test/e2e/edge-features.test.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAINTENANCE_MAP, renderHaproxyConfig } from "../../src/edge/haproxy-config";
import { addMapCommand, maintenanceMapFile } from "../../src/edge/maintenance";
import { parseVerbArgs, UsageError } from "../../src/cli/args";

const render = (o: Parameters<typeof renderHaproxyConfig>[0] extends infer T ? Partial<T> : never) =>
  renderHaproxyConfig({ backend: "api", serviceHost: "api", ...o });
const lines = (cfg: string) => cfg.split("\n").map((l) => l.trim());

describe("edge features in haproxy.cfg", () => {
  it("gives every request an id (the client's, or a new uuid), sends it to the API and back, and logs JSON with it", () => {
    const l = lines(render({}));
    assert.ok(l.includes("http-request set-var(txn.request_id) req.hdr(x-request-id)"));
    assert.ok(l.includes("http-request set-var(txn.request_id) uuid(4) unless { var(txn.request_id) -m found }"));
    assert.ok(l.includes("http-request set-header X-Request-ID %[var(txn.request_id)]"));
    assert.ok(l.includes("log stdout format raw local0 info"), "info, so access lines are written");
    const format = l.find((x) => x.startsWith("log-format "))!;
    const json = format.slice("log-format '".length, -1);
    assert.match(json, /"request_id":"%\[var\(txn.request_id\),json\(utf8s\)\]"/);
    assert.match(json, /"path":"%HPO"/, "the path without its query string");
    assert.doesNotMatch(json, /%HU|%r\b|body/, "no full URL, request line or body");
    assert.match(json, /"client":"%ci"/);
    assert.match(lines(render({ truncateClientAddress: true })).find((x) => x.startsWith("log-format "))!, /"client":"%\[src,ipmask\(24,64\)\]"/);
  });

  it("maintenance: a 503 with retry-after and the map's message, for every request while the map has `on`", () => {
    const l = lines(render({}));
    assert.ok(l.includes(`acl maintenance str(on),map(${MAINTENANCE_MAP}) -m found`));
    const rule = l.find((x) => x.startsWith("http-request return status 503"))!;
    assert.match(rule, /hdr retry-after 60 if maintenance$/);
    assert.match(rule, /json\(utf8s\)/, "the message is JSON-escaped");
  });

  it("rate limiting only when asked, per client address, 429 with retry-after, readiness/health/metrics exempt", () => {
    assert.ok(!render({}).includes("track-sc0"));
    const l = lines(render({ rateLimitPer10s: 50 }));
    assert.ok(l.includes("stick-table type ipv6 size 100k expire 30s store http_req_rate(10s)"));
    assert.ok(l.includes("http-request track-sc0 src unless { path /up } || { path /health } || { path /metrics }"));
    assert.match(l.find((x) => x.includes("status 429"))!, /hdr retry-after 10 if \{ sc_http_req_rate\(0\) gt 50 \}$/);
    assert.throws(() => render({ rateLimitPer10s: -1 }), /whole number/);
  });

  it("CORS: none by default; exact origins echoed back with vary; * allows any; preflights answered at the edge", () => {
    assert.ok(!render({}).includes("access-control"));
    const l = lines(render({ corsOrigins: ["https://app.example.com", "http://localhost:5173"] }));
    assert.ok(l.includes("acl cors_origin req.hdr(origin) -m str https://app.example.com http://localhost:5173"));
    assert.ok(l.includes("http-request set-var(txn.cors_origin) req.hdr(origin) if cors_origin"));
    assert.ok(l.some((x) => x.startsWith("http-request return status 204") && x.endsWith("if METH_OPTIONS cors_origin { req.hdr(access-control-request-method) -m found }")));
    assert.ok(l.includes("http-response add-header vary origin if { var(txn.cors_origin) -m found }"));
    const any = lines(render({ corsOrigins: ["*"] }));
    assert.ok(any.includes("acl cors_origin req.hdr(origin) -m found"));
    assert.ok(any.includes("http-request set-var(txn.cors_origin) str(*) if cors_origin"));
    assert.throws(() => render({ corsOrigins: ["app.example.com"] }), /scheme:\/\/host/);
  });

  it("the API's /metrics is not served to the public (Prometheus scrapes the replicas directly)", () => {
    assert.ok(lines(render({})).includes("http-request return status 404 if { path /metrics }"));
  });

  it("security headers on by default, off when asked", () => {
    const l = lines(render({}));
    for (const h of ["X-Content-Type-Options nosniff", "X-Frame-Options DENY", "Referrer-Policy strict-origin-when-cross-origin", `Content-Security-Policy "frame-ancestors 'none'"`]) {
      assert.ok(l.includes(`http-response set-header ${h}`), h);
    }
    assert.ok(!render({ securityHeaders: false }).includes("X-Frame-Options"));
  });
});

describe("maintenance map", () => {
  it("on: one `on <message>` line; off: empty; a newline in the message is refused", () => {
    assert.equal(maintenanceMapFile(true, "Back at 10:00"), "on Back at 10:00\n");
    assert.equal(maintenanceMapFile(false, "x"), "");
    assert.throws(() => maintenanceMapFile(true, "a\nb"), /one line/);
  });
  it("the runtime command escapes spaces, backslashes and semicolons (the CLI splits words and commands)", () => {
    assert.equal(addMapCommand("Back soon; sorry"), `add map ${MAINTENANCE_MAP} on Back\\ soon\\;\\ sorry`);
    assert.equal(addMapCommand("a\\b"), `add map ${MAINTENANCE_MAP} on a\\\\b`);
  });
});

describe("a verb's positional word", () => {
  const spec = { name: "maintenance", summary: "", flags: { stack: { type: "string" as const, description: "", required: true } }, positional: { name: "state", choices: ["on", "off"] } };
  it("is one of its choices", () => {
    assert.equal(parseVerbArgs(["--stack", "s", "on"], spec)?.state, "on");
    assert.equal(parseVerbArgs(["off", "--stack", "s"], spec)?.state, "off");
  });
  it("anything else is a usage error naming the choices", () => {
    assert.throws(() => parseVerbArgs(["--stack", "s"], spec), (e: Error) => e instanceof UsageError && /on\|off/.test(e.message));
    assert.throws(() => parseVerbArgs(["--stack", "s", "maybe"], spec), /got 'maybe'/);
    assert.throws(() => parseVerbArgs(["--stack", "s", "on", "off"], spec), UsageError);
  });
});

describe("TLS in haproxy.cfg", () => {
  it("off by default; on: an HTTPS bind with the PEM, modern ciphers only, HTTP redirected (308) to the public HTTPS port", () => {
    assert.ok(!render({}).includes("ssl"));
    const l = lines(render({ tls: { publicPort: 8443, hsts: false } }));
    assert.ok(l.includes("bind :8443 ssl crt /usr/local/etc/haproxy/tls.pem alpn h2,http/1.1"));
    assert.ok(l.includes("ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets"));
    assert.ok(l.find((x) => x.startsWith("ssl-default-bind-ciphers "))!.split(":").every((c) => /ECDHE-.*(GCM|CHACHA20)/.test(c)), "forward-secret AEAD only");
    assert.ok(l.includes("http-request redirect location https://%[req.hdr(host),field(1,:)]:8443%[capture.req.uri] code 308 unless { ssl_fc }"));
    assert.ok(!l.some((x) => x.includes("Strict-Transport-Security")));
    assert.ok(lines(render({ tls: { publicPort: 443, hsts: true } })).includes('http-response set-header Strict-Transport-Security "max-age=63072000" if { ssl_fc }'));
    assert.ok(render({ tls: { publicPort: 443, hsts: true } }).includes("https://%[req.hdr(host),field(1,:)]%[capture.req.uri]"), "no :443 in the redirect");
  });
});
