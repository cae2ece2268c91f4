// How slipway reaches a Docker engine, decided without touching the network: unix/tcp/TLS/ssh from dockerHost or
// DOCKER_HOST, the TLS files of DOCKER_CERT_PATH, SSH credentials and known_hosts (OpenSSH's matching rules), the
// refusal of unknown or changed host keys with the fix in the message, and where a published port is reached.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { checkHostKey, dockerConnection, dockerodeOptions, edgeUrl, HostKeyError, knownHostKeys, publishedHost, type ConnectEnv } from "../../src/docker/connect";

const KEY_A = Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAIA" + "a".repeat(42), "base64");
const KEY_B = Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAIB" + "b".repeat(42), "base64");

function ctx(env: Record<string, string>, files: Record<string, string | Buffer> = {}): ConnectEnv {
  return {
    env,
    home: "/home/op",
    user: "op",
    readFile: (p) => (files[p] === undefined ? undefined : Buffer.from(files[p])),
  };
}

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

describe("dockerConnection", () => {
  it("no dockerHost and no DOCKER_HOST: dockerode's default socket", () => {
    assert.deepEqual(dockerConnection(undefined, ctx({})), { kind: "default" });
    assert.equal(dockerodeOptions({ kind: "default" }), undefined);
  });

  it("unix:// and DOCKER_HOST when the stack names none; the stack's dockerHost wins over DOCKER_HOST", () => {
    assert.deepEqual(dockerConnection("unix:///run/d.sock", ctx({})), { kind: "socket", socketPath: "/run/d.sock" });
    assert.deepEqual(dockerConnection(undefined, ctx({ DOCKER_HOST: "unix:///x.sock" })), { kind: "socket", socketPath: "/x.sock" });
    assert.deepEqual(dockerConnection("tcp://h:2375", ctx({ DOCKER_HOST: "unix:///x.sock" })), { kind: "http", host: "h", port: 2375 });
  });

  it("tcp:// is plain HTTP without TLS settings, and port 2376 without them is an error, not a silent downgrade", () => {
    assert.deepEqual(dockerConnection("tcp://10.0.0.5:2375", ctx({})), { kind: "http", host: "10.0.0.5", port: 2375 });
    assert.deepEqual(dockerodeOptions({ kind: "http", host: "h", port: 2375 }), { host: "h", port: 2375, protocol: "http" });
    assert.throws(() => dockerConnection("tcp://h:2376", ctx({})), /port 2376 is Docker's TLS port.*DOCKER_TLS_VERIFY=1/);
  });

  it("tcp:// with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH: TLS with ca.pem, cert.pem, key.pem", () => {
    const files = { "/certs/ca.pem": "CA", "/certs/cert.pem": "CERT", "/certs/key.pem": "KEY" };
    const c = dockerConnection("tcp://docker.example:2376", ctx({ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }, files));
    assert.equal(c.kind, "https");
    const o = dockerodeOptions(c) as Record<string, unknown>;
    assert.equal(o.protocol, "https");
    assert.equal(o.host, "docker.example");
    assert.equal(o.port, 2376);
    assert.equal(String(o.ca), "CA");
    assert.equal(String(o.cert), "CERT");
    assert.equal(String(o.key), "KEY");
    // DOCKER_CERT_PATH alone turns TLS on too; the default directory is ~/.docker.
    assert.equal(dockerConnection("tcp://h:2376", ctx({ DOCKER_CERT_PATH: "/certs" }, files)).kind, "https");
    const home = { "/home/op/.docker/ca.pem": "CA" };
    assert.equal(dockerConnection("tcp://h:2376", ctx({ DOCKER_TLS_VERIFY: "1" }, home)).kind, "https");
    assert.throws(() => dockerConnection("tcp://h:2376", ctx({ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/none" })), /\/none\/ca\.pem does not exist/);
    assert.throws(() => dockerConnection("tcp://h:2376", ctx({ DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/certs" }, { "/certs/ca.pem": "CA", "/certs/cert.pem": "C" })), /cert\.pem but no key\.pem/);
  });

  it("ssh://: user, port, agent and key file (SLIPWAY_SSH_KEY, else ~/.ssh/id_ed25519 …), known host keys", () => {
    const kh = `[10.203.0.2]:2222 ssh-ed25519 ${KEY_A.toString("base64")}\nother ssh-ed25519 ${KEY_B.toString("base64")}\n`;
    const c = dockerConnection("ssh://root@10.203.0.2:2222", ctx({ SSH_AUTH_SOCK: "/run/agent" }, { "/home/op/.ssh/known_hosts": kh, "/home/op/.ssh/id_ed25519": "PRIV" }));
    assert.equal(c.kind, "ssh");
    if (c.kind !== "ssh") return;
    assert.equal(c.host, "10.203.0.2");
    assert.equal(c.port, 2222);
    assert.equal(c.username, "root");
    assert.equal(c.agent, "/run/agent");
    assert.equal(c.keyFile, "/home/op/.ssh/id_ed25519");
    assert.deepEqual(c.known.map((k) => k.blob), [KEY_A]);
    const o = dockerodeOptions(c) as { protocol: string; host: string; port: number; username: string; sshOptions: Record<string, unknown> };
    assert.deepEqual([o.protocol, o.host, o.port, o.username], ["ssh", "10.203.0.2", 2222, "root"]);
    assert.equal(o.sshOptions.agent, "/run/agent");
    assert.equal(String(o.sshOptions.privateKey), "PRIV");
    assert.deepEqual(o.sshOptions.algorithms, { serverHostKey: ["ssh-ed25519"] });
    const verify = o.sshOptions.hostVerifier as (k: Buffer) => boolean;
    assert.equal(verify(KEY_A), true);
    assert.equal(verify(KEY_B), false);

    // Defaults: port 22, the local user; SLIPWAY_SSH_KEY / SLIPWAY_SSH_KNOWN_HOSTS name other files.
    const d = dockerConnection("ssh://h", ctx({ SLIPWAY_SSH_KEY: "/k", SLIPWAY_SSH_KNOWN_HOSTS: "/kh" }, { "/kh": `h ssh-rsa ${KEY_A.toString("base64")}`, "/k": "K" }));
    assert.ok(d.kind === "ssh" && d.port === 22 && d.username === "op" && d.keyFile === "/k" && d.agent === undefined);
    assert.deepEqual((dockerodeOptions(d) as { sshOptions: { algorithms: unknown } }).sshOptions.algorithms, { serverHostKey: ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] });
  });

  it("ssh:// refuses an unknown host with the host and how to add it, and refuses to go without credentials", () => {
    const e = (() => {
      try {
        dockerConnection("ssh://root@10.203.0.2:2222", ctx({ SSH_AUTH_SOCK: "/a" }, { "/home/op/.ssh/known_hosts": `10.203.0.2 ssh-ed25519 ${KEY_A.toString("base64")}` }));
      } catch (err) {
        return err as Error;
      }
      return undefined;
    })();
    assert.ok(e instanceof HostKeyError, "port 2222 is not port 22: a different known_hosts entry");
    assert.match(e.message, /ssh:\/\/10\.203\.0\.2:2222 refused: its host key is not in \/home\/op\/\.ssh\/known_hosts/);
    assert.match(e.message, /ssh-keyscan -p 2222 10\.203\.0\.2 >> ~\/\.ssh\/known_hosts/);
    const kh = { "/home/op/.ssh/known_hosts": `h ssh-ed25519 ${KEY_A.toString("base64")}` };
    assert.throws(() => dockerConnection("ssh://h", ctx({}, kh)), /no SSH credentials.*SLIPWAY_SSH_KEY/);
    assert.throws(() => dockerConnection("ssh://h", ctx({ SLIPWAY_SSH_KEY: "/missing" }, kh)), /SLIPWAY_SSH_KEY names \/missing, which cannot be read/);
  });

  it("a changed or revoked host key is refused, saying so", () => {
    const s = { host: "h", port: 22, knownHostsFiles: ["/kh"], known: [{ type: "ssh-ed25519", blob: KEY_A }], revoked: [] as Buffer[] };
    assert.equal(checkHostKey(s, KEY_A), undefined);
    const changed = checkHostKey(s, KEY_B);
    assert.equal(changed?.reason, "changed");
    assert.match(changed?.message ?? "", /HOST KEY CHANGED.*ssh-keygen -R h.*ssh-keyscan h >> ~\/\.ssh\/known_hosts/);
    assert.equal(checkHostKey({ ...s, revoked: [KEY_A] }, KEY_A)?.reason, "revoked");
  });

  it("ssh:// with an unsupported scheme or a bad URL is an error naming it", () => {
    assert.throws(() => dockerConnection("ftp://h", ctx({})), /dockerHost "ftp:\/\/h": use unix:\/\/, tcp:\/\/, https:\/\/ or ssh:\/\//);
  });
});

describe("knownHostKeys (OpenSSH's known_hosts rules)", () => {
  const b64 = KEY_A.toString("base64");
  it("plain names, comma lists, [host]:port, hashed names, wildcards and negations; comments and CA lines skipped", () => {
    const text = [
      "# comment",
      `a.example,10.0.0.1 ssh-ed25519 ${b64}`,
      `[a.example]:2222 ecdsa-sha2-nistp256 ${b64}`,
      `${hashed("hashed.example")} ssh-ed25519 ${b64}`,
      `${hashed("[hashed.example]:2200")} ssh-ed25519 ${b64}`,
      `*.wild.example,!no.wild.example ssh-ed25519 ${b64}`,
      `@cert-authority *.example ssh-ed25519 ${b64}`,
      `@revoked b.example ssh-ed25519 ${KEY_B.toString("base64")}`,
    ].join("\n");
    const types = (h: string, p = 22) => knownHostKeys(text, h, p).keys.map((k) => k.type);
    assert.deepEqual(types("a.example"), ["ssh-ed25519"]);
    assert.deepEqual(types("10.0.0.1"), ["ssh-ed25519"]);
    assert.deepEqual(types("A.EXAMPLE"), ["ssh-ed25519"], "host names are case-insensitive");
    assert.deepEqual(types("a.example", 2222), ["ecdsa-sha2-nistp256"]);
    assert.deepEqual(types("hashed.example"), ["ssh-ed25519"]);
    assert.deepEqual(types("hashed.example", 2200), ["ssh-ed25519"]);
    assert.deepEqual(types("hashed.example", 2201), []);
    assert.deepEqual(types("x.wild.example"), ["ssh-ed25519"]);
    assert.deepEqual(types("no.wild.example"), []);
    assert.deepEqual(types("c.example"), [], "a CA line is no host key");
    assert.deepEqual(knownHostKeys(text, "b.example", 22).revoked, [KEY_B]);
  });
});

describe("publishedHost (edgeUrl)", () => {
  it("local engine: the bind address (0.0.0.0 → 127.0.0.1)", () => {
    assert.deepEqual(publishedHost(undefined, "127.0.0.1"), { host: "127.0.0.1", loopbackOnRemote: false });
    assert.deepEqual(publishedHost("unix:///var/run/docker.sock", "0.0.0.0"), { host: "127.0.0.1", loopbackOnRemote: false });
    assert.deepEqual(publishedHost("ssh://u@localhost", "10.1.1.1"), { host: "10.1.1.1", loopbackOnRemote: false });
  });
  it("remote engine: its address for 0.0.0.0 (and for 127.0.0.1, flagged), a specific bind address as is", () => {
    assert.deepEqual(publishedHost("ssh://deploy@docker1.example:2222", "0.0.0.0"), { host: "docker1.example", loopbackOnRemote: false });
    assert.deepEqual(publishedHost("tcp://10.0.0.5:2376", "::"), { host: "10.0.0.5", loopbackOnRemote: false });
    assert.deepEqual(publishedHost("ssh://deploy@docker1.example", "127.0.0.1"), { host: "docker1.example", loopbackOnRemote: true });
    assert.deepEqual(publishedHost("ssh://root@10.203.0.2:2222", "10.203.0.2"), { host: "10.203.0.2", loopbackOnRemote: false });
  });
});

describe("edgeUrl (the stack output promote, rollback and CI's smoke test call)", () => {
  const edge = { bindAddress: "127.0.0.1", port: 28080, tls: { enabled: false, port: 8443 } };
  it("edge.publicUrl, when set, is what clients use: it wins over the derived address (trailing slash dropped)", () => {
    // A hosted CI runner cannot reach 127.0.0.1 on a remote host: the derived URL would never answer.
    assert.equal(edgeUrl(edge, "ssh://deploy@docker1.example"), "http://docker1.example:28080");
    assert.equal(edgeUrl({ ...edge, publicUrl: "https://api.example.com/" }, "ssh://deploy@docker1.example"), "https://api.example.com");
    assert.equal(edgeUrl({ ...edge, publicUrl: "https://api.example.com/v1" }, undefined), "https://api.example.com/v1");
  });
  it("unset: derived from dockerHost and bindAddress, https on tls.port with TLS, IPv6 in brackets", () => {
    assert.equal(edgeUrl(edge, undefined), "http://127.0.0.1:28080");
    assert.equal(edgeUrl({ ...edge, tls: { enabled: true, port: 9443 } }, "tcp://10.0.0.5:2376"), "https://10.0.0.5:9443");
    assert.equal(edgeUrl({ ...edge, bindAddress: "::1" }, undefined), "http://[::1]:28080");
  });
});

it("a unix socket's options override docker-modem's DOCKER_HOST defaults (host, TLS material), and dockerode then uses the socket", () => {
  const opts = dockerodeOptions({ kind: "socket", socketPath: "/run/d.sock" }) as Record<string, unknown>;
  for (const key of ["host", "port", "ca", "cert", "key"]) assert.ok(key in opts && opts[key] === undefined, `${key} explicitly unset`);
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = "tcp://127.0.0.1:9";
  try {
    const DockerCtor = require("dockerode") as typeof import("dockerode");
    const modem = (new DockerCtor(opts) as unknown as { modem: { socketPath?: string; host?: string } }).modem;
    assert.equal(modem.socketPath, "/run/d.sock");
    assert.equal(modem.host, undefined);
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
});
